"""Results from stored answers: only analysable answers, statistics per condition."""

from __future__ import annotations

import pytest
from scipy import stats

from xai_eval.studies import participant_service as service
from xai_eval.studies.analysis import study_statistics
from xai_eval.studies.platform import PlatformVisit
from xai_eval.studies.statistics import accuracy_summary


def _take(factory, slug, right_on, rt=1500):
    """A participant who is right exactly on the conditions in ``right_on``."""
    with factory() as s:
        started = service.start_or_resume(s, service.get_study(s, slug), PlatformVisit())
    while True:
        with factory() as s:
            view = service.next_trial(s, started.token)
            if isinstance(view, service.Finished):
                return started.participant_id
            participant = service.participant_for_token(s, started.token)
            trial = next(t for t in participant.trials if t.public_id == view.trial_id)
            key = trial.item.answer_key["correct"]
            wrong = next(o.value for o in view.options if o.value != key)
            good = trial.kind == "attention" or trial.item.condition in right_on
            service.submit_answer(s, started.token, view.trial_id, key if good else wrong, rt)


def test_class_discrimination_statistics(study_db):
    factory, slug = study_db
    for _ in range(4):
        _take(factory, slug, right_on={"guided_gradcam"})
    _take(factory, slug, right_on={"guided_backprop"}, rt=50)  # excluded: too fast
    with factory() as s:
        result = study_statistics(s, service.get_study(s, slug))
    assert (result.kind, result.chance, result.completed, result.included) == (
        "accuracy", 0.5, 5, 4)
    rows = {r["condition"]: r for r in result.rows()}
    assert rows["guided_gradcam"]["accuracy"] == 1.0
    assert rows["guided_backprop"]["accuracy"] == 0.0
    n = rows["guided_gradcam"]["answers"]
    assert rows["guided_backprop"]["answers"] + n == 16  # 4 participants x 4 main trials
    expected = accuracy_summary(n, n)
    assert rows["guided_gradcam"]["ci_low"] == pytest.approx(expected.ci_low)
    assert rows["guided_gradcam"]["p_value"] == pytest.approx(expected.p_value)
    assert len(result.comparisons) == 1


def test_trust_statistics_use_recoded_ratings(db_url, build_fake):
    build_fake(db_url, task="trust", trials_per_participant=4)
    from xai_eval.db.base import make_engine, session_factory

    engine = make_engine(db_url)
    factory = session_factory(engine)
    ratings = []
    for _ in range(5):
        with factory() as s:
            started = service.start_or_resume(s, service.get_study(s, "test_trust"),
                                              PlatformVisit())
        while True:
            with factory() as s:
                view = service.next_trial(s, started.token)
                if isinstance(view, service.Finished):
                    break
                participant = service.participant_for_token(s, started.token)
                trial = next(t for t in participant.trials if t.public_id == view.trial_id)
                if trial.kind == "attention":
                    wanted = view.question.split("“")[1].rstrip("”.")
                    answer = next(o.value for o in view.options if o.label == wanted)
                else:
                    # always prefer the stronger model by one point, wherever it is shown
                    answer = 1 if trial.placement["model_1"] == "strong" else -1
                    if trial.kind == "main":
                        ratings.append(1.0)
                service.submit_answer(s, started.token, view.trial_id, answer, 1500)
    with factory() as s:
        result = study_statistics(s, service.get_study(s, "test_trust"))
    engine.dispose()
    assert result.kind == "rating" and result.included == 5
    for row in result.rows():
        assert row["mean"] == 1.0 and row["ci_low"] == 1.0 and row["ci_high"] == 1.0
        assert 1 <= row["participants"] <= 5
        assert row["p_value"] == pytest.approx(
            stats.wilcoxon([1.0] * row["participants"]).pvalue)
    assert sum(r["answers"] for r in result.rows()) == len(ratings) == 20
