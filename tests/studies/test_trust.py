"""Trust task: Model-1 placement counterbalanced, raw answer + side mapping stored, recoding."""

from __future__ import annotations

from collections import Counter

import pytest
from sqlalchemy import select

from xai_eval.db.base import make_engine, session_factory
from xai_eval.db.studies import Response, TrialInstance
from xai_eval.studies import participant_service as service
from xai_eval.studies.platform import PlatformVisit


@pytest.fixture
def trust_db(db_url, build_fake):
    build_fake(db_url, task="trust", trials_per_participant=6)
    engine = make_engine(db_url)
    yield session_factory(engine)
    engine.dispose()


def _run(factory, rating):
    with factory() as s:
        started = service.start_or_resume(s, service.get_study(s, "test_trust"), PlatformVisit())
    while True:
        with factory() as s:
            view = service.next_trial(s, started.token)
            if isinstance(view, service.Finished):
                return started
            assert view.response_kind == "rating"
            assert [o.value for o in view.options] == [2, 1, 0, -1, -2]
            assert [st.position for st in view.stimuli] == ["left", "right"]
            # ratings may arrive as the displayed string ("+2") from a form
            service.submit_answer(s, started.token, view.trial_id, f"{rating:+d}", 1500)


def test_ratings_are_recoded_so_plus_means_the_stronger_model(trust_db):
    _run(trust_db, rating=2)  # always "Model 1 clearly more reliable"
    with trust_db() as s:
        rows = s.execute(select(Response, TrialInstance)
                         .join(TrialInstance, TrialInstance.id == Response.trial_id)
                         .where(TrialInstance.kind == "main")).all()
    assert rows
    for response, trial in rows:
        assert response.answer == 2  # raw answer as shown
        model_1 = trial.placement["model_1"]
        assert response.side_mapping["models"]["left"] == model_1
        expected = 2.0 if model_1 == "strong" else -2.0
        assert response.score == expected and response.correct is None


def test_model_1_is_the_stronger_model_half_the_time(trust_db):
    for _ in range(8):
        _run(trust_db, rating=0)
    with trust_db() as s:
        trials = s.scalars(select(TrialInstance).where(TrialInstance.kind == "main")).all()
    per_item: dict[int, Counter] = {}
    for t in trials:
        per_item.setdefault(t.item_id, Counter())[t.placement["model_1"]] += 1
    for counts in per_item.values():
        assert abs(counts["strong"] - counts["weak"]) <= 1
    overall = Counter(t.placement["model_1"] for t in trials)
    assert abs(overall["strong"] - overall["weak"]) <= len(per_item)


def test_trust_trial_reveals_no_model_names(trust_db):
    with trust_db() as s:
        started = service.start_or_resume(s, service.get_study(s, "test_trust"), PlatformVisit())
        text = str(service.next_trial(s, started.token).as_dict())
    assert "strong" not in text and "weak" not in text and "guided" not in text
