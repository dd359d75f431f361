"""The model-prediction study: build, between-subjects balance, phases, overlap refusal,
and the utility analysis against a hand computation."""

from __future__ import annotations

import math
from collections import Counter

import pytest
from sqlalchemy import select

from xai_eval.db.base import make_engine, session_factory
from xai_eval.db.studies import Item, TrialInstance
from xai_eval.studies import participant_service as service
from xai_eval.studies.errors import StudyDefinitionError
from xai_eval.studies.platform import parse_visit
from xai_eval.studies.utility import (
    condition_accuracy,
    per_participant_accuracy,
    required_per_condition,
    study_utility,
    utility_against_control,
)

PARAMS = {"classes": ["red", "green", "blue"], "model": "weak", "scenario": "all",
          "training_items": 4, "test_items": 4, "trials_per_participant": 4,
          "practice_trials": 4, "attention_checks": 0}


@pytest.fixture
def mp_db(db_url, build_fake):
    report = build_fake(db_url, task="model_prediction", **PARAMS)
    engine = make_engine(db_url)
    yield session_factory(engine), report
    engine.dispose()


def _start(factory):
    with factory() as s:
        study = service.get_study(s, "test_model_prediction")
        return service.start_or_resume(s, study, parse_visit({}))


def _items(factory):
    with factory() as s:
        return list(s.scalars(select(Item)))


def test_build_plans_training_and_disjoint_test_per_condition(mp_db):
    factory, report = mp_db
    items = _items(factory)
    conditions = Counter((i.kind, i.condition) for i in items)
    for condition in ("guided_backprop", "guided_gradcam", "control"):
        assert conditions[("practice", condition)] == 4
        assert conditions[("main", condition)] == 4
    training = {i.image_id for i in items if i.kind == "practice"}
    test = {i.image_id for i in items if i.kind == "main"}
    assert len(training) == 4 and len(test) == 4 and not training & test
    # every condition is tested on the same images; the control trains without a map
    for condition in ("guided_backprop", "control"):
        assert {i.image_id for i in items if i.kind == "main" and i.condition == condition} == test
    control_train = [i for i in items if i.kind == "practice" and i.condition == "control"]
    assert all(set(i.payload["stimuli"]) == {"image"} for i in control_train)
    explained = [i for i in items if i.kind == "practice" and i.condition == "guided_backprop"]
    assert all(set(i.payload["stimuli"]) == {"image", "explanation"} for i in explained)
    # the key is the weak model's decision (it calls blue images red)
    tests = [i for i in items if i.kind == "main"]
    assert all(set(i.payload["stimuli"]) == {"image"} for i in tests)
    assert {i.answer_key["correct"] for i in tests} <= {"red", "green"}


def test_participants_get_one_condition_balanced_training_first(mp_db):
    factory, _ = mp_db
    seen = Counter()
    for _ in range(7):
        started = _start(factory)
        with factory() as s:
            trials = list(s.scalars(select(TrialInstance).where(
                TrialInstance.participant_id == started.participant_id)
                .order_by(TrialInstance.order_index)))
            conditions = {t.item.condition for t in trials}
            assert len(conditions) == 1
            seen[conditions.pop()] += 1
            kinds = [t.kind for t in trials]
            assert kinds == ["practice"] * 4 + ["main"] * 4
    assert sorted(seen.values()) == [2, 2, 3]  # within one of each other


def test_training_trial_shows_decision_and_map_test_trial_asks_for_it(mp_db):
    factory, _ = mp_db
    views = []
    for _ in range(3):
        token = _start(factory).token
        with factory() as s:
            views.append(service.next_trial(s, token))
    explained = [v for v in views if [st.position for st in v.stimuli] == ["left", "right"]]
    control = [v for v in views if [st.position for st in v.stimuli] == ["center"]]
    assert len(explained) == 2 and len(control) == 1
    for view in views:
        assert [o.value for o in view.options] == ["next"]
        assert view.stimuli[0].caption.startswith("The model decided: ")
        assert view.extra["phase_label"] == "Training."
    token = _start(factory).token
    with factory() as s:
        for _ in range(4):
            view = service.next_trial(s, token)
            outcome = service.submit_answer(s, token, view.trial_id, "next", 900)
            assert outcome.feedback is None
        view = service.next_trial(s, token)
    assert view.phase == "trial" and [st.position for st in view.stimuli] == ["center"]
    assert sorted(o.value for o in view.options) == ["blue", "green", "red"]
    assert "decided" not in view.stimuli[0].caption


def test_build_refuses_overlapping_training_and_test_images(db_url, build_fake):
    with pytest.raises(StudyDefinitionError, match="overlap the training images.*img001"):
        build_fake(db_url, task="model_prediction",
                   **{**PARAMS, "training_images": ["img000", "img001"],
                      "test_images": ["img001", "img002"]})


def test_bad_parameters_are_named(db_url, build_fake):
    with pytest.raises(StudyDefinitionError, match="parameters.classes"):
        build_fake(db_url, task="model_prediction", **{**PARAMS, "classes": None})
    with pytest.raises(StudyDefinitionError, match="not classes of the dataset.*red"):
        build_fake(db_url, task="model_prediction", **{**PARAMS, "classes": ["red", "cat"]})
    with pytest.raises(StudyDefinitionError, match="scenario 'nope' is not registered"):
        build_fake(db_url, task="model_prediction", **{**PARAMS, "scenario": "nope"})


def test_counterfactual_variant_shows_original_and_changed(db_url, build_fake):
    build_fake(db_url, task="model_prediction", **{**PARAMS, "simulation": "counterfactual"})
    engine = make_engine(db_url)
    try:
        with session_factory(engine)() as s:
            tests = list(s.scalars(select(Item).where(Item.kind == "main")))
    finally:
        engine.dispose()
    assert tests and all(set(i.payload["stimuli"]) == {"image", "changed"} for i in tests)
    assert all(i.payload["stimuli"]["image"] != i.payload["stimuli"]["changed"] for i in tests)
    assert all("decision" in i.payload for i in tests)


# --- the analysis against a hand computation ---------------------------------------------
def test_utility_matches_hand_computation():
    # explainer participants: 3/4, 4/4, 2/4 correct; control: 1/4, 2/4, 2/4, 1/4
    explained = [0.75, 1.0, 0.5]
    control = [0.25, 0.5, 0.5, 0.25]
    u = utility_against_control("gb", explained, control)
    # by hand: means 0.75 and 0.375 -> utility 0.375
    # s1² = ((0)² + .25² + .25²)/2 = 0.0625; s2² = (3 x .125²... ) = 4 x 0.015625 / 3 = 0.0208333
    # se = sqrt(0.0625/3 + 0.0208333/4) = sqrt(0.0208333 + 0.0052083) = 0.161374
    # df = 0.0260417² / (0.0208333²/2 + 0.0052083²/3) = 0.00067817 / 0.00022606 = 2.99999..
    # t(0.975, df=3) = 3.182446 -> half-width 0.513568 -> [-0.138568, 0.888568]
    assert u.utility == pytest.approx(0.375)
    assert u.ci_low == pytest.approx(0.375 - 3.182446 * 0.161374, abs=2e-5)
    assert u.ci_high == pytest.approx(0.375 + 3.182446 * 0.161374, abs=2e-5)
    assert u.ratio == pytest.approx(2.0)
    # pooled sd = sqrt((2 x 0.0625 + 3 x 0.0208333) / 5) = sqrt(0.0375) = 0.193649; d = 1.93649
    assert u.cohens_d == pytest.approx(0.375 / math.sqrt(0.0375))
    # t = 0.375 / 0.161374 = 2.32380, df 3: two-sided p = 0.10276
    assert u.p_value == pytest.approx(0.1028, abs=5e-4)
    c = condition_accuracy("gb", explained, chance=1 / 3)
    # mean 0.75, sd 0.25, se 0.144338, t(0.975, 2) = 4.302653 -> [0.128963, 1.371037]
    assert (c.mean, c.sd) == (pytest.approx(0.75), pytest.approx(0.25))
    assert c.ci_low == pytest.approx(0.75 - 4.302653 * 0.25 / math.sqrt(3), abs=1e-5)
    assert c.ci_high == pytest.approx(0.75 + 4.302653 * 0.25 / math.sqrt(3), abs=1e-5)


def test_per_participant_accuracy_and_power():
    rows = [(1, "gb", 1.0), (1, "gb", 0.0), (2, "control", 0.0), (2, "control", 0.0),
            (3, "gb", 1.0), (3, "gb", 1.0), (1, "gb", None)]
    assert per_participant_accuracy(rows) == {"gb": [0.5, 1.0], "control": [0.0]}
    # Cohen's table: d = 0.5, alpha .05 two-sided, power .8 -> 64 per group
    assert required_per_condition(0.5) == 64
    assert required_per_condition(0.8) == 26
    assert required_per_condition(0.0) is None


def test_study_utility_from_stored_answers(mp_db):
    factory, _ = mp_db
    # answer every test trial with the key for explainer participants, "blue" (never the key)
    # for control participants: utility of each explainer = 1 - 0 = 1
    for _ in range(6):
        token = _start(factory).token
        with factory() as s:
            while True:
                view = service.next_trial(s, token)
                if isinstance(view, service.Finished):
                    break
                trial = s.scalar(select(TrialInstance).where(
                    TrialInstance.public_id == view.trial_id))
                item = trial.item
                answer = ("next" if item.kind == "practice" else
                          "blue" if item.condition == "control" else item.answer_key["correct"])
                service.submit_answer(s, token, view.trial_id, answer, 900)
    with factory() as s:
        report = study_utility(s, service.get_study(s, "test_model_prediction"))
    by_name = {u.condition: u for u in report.utilities}
    assert set(by_name) == {"guided_backprop", "guided_gradcam"}
    assert all(u.utility == pytest.approx(1.0) for u in by_name.values())
    assert report.chance == pytest.approx(1 / 3)
    assert {c.condition: c.participants for c in report.conditions} == {
        "control": 2, "guided_backprop": 2, "guided_gradcam": 2}


def test_shipped_study_file_loads_with_its_registration():
    from pathlib import Path

    from xai_eval.studies.definition import load_definition, task_class

    path = Path(__file__).resolve().parents[2] / "studies" / "model_prediction.yaml"
    definition = load_definition(path)
    task = task_class(definition.task)(definition)
    assert task.conditions == ["gradcam", "guided_backprop", "control"]
    assert task.chance == pytest.approx(0.2)
    assert definition.preregistration is not None
    assert len(definition.preregistration.hypotheses) == 3
    bias = load_definition(path.with_name("model_prediction_bias.yaml"))
    assert bias.models[0].spec == "embedded_v2:biased" and bias.dataset.split == "bias_test"


def test_scenarios_select_and_balance_cases():
    from xai_eval_study_tasks.scenarios import Case, get_scenario, register_scenario

    cases = [Case(i, f"img{i}", 0, correct) for i, correct in
             enumerate([True, True, True, False, False])]
    assert [c.index for c in get_scenario("correct")(cases)] == [0, 1, 2]
    assert [c.index for c in get_scenario("failure")(cases)] == [3, 4]
    assert [c.correct for c in get_scenario("mixed")(cases)] == [True, False, True, False,
                                                                 True]
    assert get_scenario("all")(cases) == cases

    @register_scenario("first_two_for_test")
    def first_two(found):
        return found[:2]

    try:
        assert get_scenario("first_two_for_test")(cases) == cases[:2]
    finally:
        from xai_eval_study_tasks import scenarios

        scenarios._SCENARIOS.pop("first_two_for_test")
