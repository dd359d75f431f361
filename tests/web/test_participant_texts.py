"""What participants read follows the study (issue 8): the practice sentence fits the task
and its count, the consent and the page give the same duration, no doubled "Thank you"."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.web.conftest import Participant
from xai_eval.db.base import make_engine, session_factory
from xai_eval.db.studies import Study
from xai_eval.studies.definition import load_definition
from xai_eval.studies.texts import practice_sentence, study_texts
from xai_eval.testing import create_sample_trust_study

STUDIES = Path(__file__).resolve().parents[2] / "studies"


def test_practice_sentence_fits_count_and_task():
    assert practice_sentence(0, True) == ""
    assert practice_sentence(1, True) == ("The first question is practice: you will see "
                                          "whether you answered correctly.")
    assert practice_sentence(2, True).startswith("The first 2 questions are practice")
    assert "no right or wrong answers" in practice_sentence(2, False)
    assert "whether you answered correctly" not in practice_sentence(2, False)


@pytest.mark.parametrize("name", ["trust.yaml", "class_discrimination.yaml"])
def test_shipped_consent_and_page_give_the_same_minutes(name):
    definition = load_definition(STUDIES / name)
    study = Study(slug=definition.slug, title=definition.title, task=definition.task,
                  definition=definition.model_dump(mode="json"),
                  definition_hash=definition.canonical_hash(), id_salt="x")
    texts = study_texts(study)
    said = re.findall(r"about\s+(\d+)\s+minutes", texts["consent_text"])
    assert said == [str(texts["minutes"])], (said, texts["minutes"])
    assert "{minutes}" not in texts["consent_text"]
    if definition.task == "trust":
        assert "whether you answered correctly" not in texts["practice_note"]


def test_pages_show_the_derived_texts(app, db_url):
    client = Participant(app)
    assert client.start().status_code == 201  # sample: 1 practice item with right answers
    run = client.client.get("/study/sample/run").get_data(as_text=True)
    assert "The first question is practice: you will see whether you answered" in run
    engine = make_engine(db_url)
    with session_factory(engine)() as session:
        create_sample_trust_study(session, slug="trust", images=2, trials=2)
    engine.dispose()
    rater = Participant(app)
    assert rater.start("trust").status_code == 201
    run = rater.client.get("/study/trust/run").get_data(as_text=True)
    assert 'id="practice-note"' not in run  # no practice questions in this study
    while not (trial := rater.trial())["done"]:
        assert trial["extra"]["scale_ends"][0].startswith("← Model 1 (left)")
        rater.answer(trial["trial_id"], trial["options"][0]["value"])
    debrief = rater.client.get("/study/trust/done").get_data(as_text=True)
    assert "<h1>Study complete</h1>" in debrief and "Thank you!</h1>" not in debrief
