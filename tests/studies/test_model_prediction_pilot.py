"""The pilot: model observers take a model-prediction study through the real JSON API, the
power analysis sizes it, the CLI prints it and stores it for the admin page; the
pre-registration document is stable, stored with the results, and frozen after the first
participant."""

from __future__ import annotations

import secrets

import pytest
from click.testing import CliRunner
from sqlalchemy import select

from xai_eval.db.base import make_engine, session_factory
from xai_eval.db.studies import AuditLog, Participant, Response
from xai_eval.studies.pilot import ModelObserver, run_pilot, saliency
from xai_eval.web.app import create_app

PARAMS = {"classes": ["red", "green", "blue"], "model": "weak", "scenario": "all",
          "training_items": 4, "test_items": 4, "trials_per_participant": 4,
          "practice_trials": 4, "attention_checks": 1,
          "exclusion": {"min_attention_pass": 1.0, "min_median_rt_ms": 500}}
SLUG = "test_model_prediction"


@pytest.fixture
def fakes(monkeypatch, fake_dataset, fake_models):
    """Make every build (also the CLI's) use the tiny fake dataset and models."""
    import xai_eval.studies.build as build

    monkeypatch.setattr(build, "load_dataset", lambda definition, registries=None: fake_dataset)
    monkeypatch.setattr(build, "load_models", lambda definition, registries=None: fake_models)


@pytest.fixture
def study_file(tmp_path):
    from tests.studies.conftest import write_definition

    return write_definition(tmp_path / "mp.yaml", "model_prediction", **PARAMS)


def _app(url, tmp_path):
    app = create_app({"DATABASE_URL": url, "SECRET_KEY": secrets.token_hex(8), "TESTING": True})
    app.instance_path = str(tmp_path)
    return app


def test_observers_take_the_study_through_the_api(db_url, tmp_path, fakes, study_file):
    from xai_eval.studies.build import build_study
    from xai_eval.studies.catalog import get_study
    from xai_eval.studies.utility import study_utility

    build_study(study_file, db_url)
    app = _app(db_url, tmp_path)
    engine = make_engine(db_url)
    factory = session_factory(engine)

    def report():
        with factory() as s:
            return study_utility(s, get_study(s, SLUG))

    try:
        result = run_pilot(app.test_client, SLUG, 9, report, seed=1)
        with factory() as s:
            people = list(s.scalars(select(Participant)))
            answers = s.scalars(select(Response)).all()
    finally:
        from xai_eval.web.database import binding

        binding(app).engine.dispose()
        engine.dispose()
    assert len(people) == 9 and all(p.status == "completed" for p in people)
    assert len(answers) == 9 * (4 + 4 + 1)
    # every observer passed its attention check, so none is excluded: 3 per condition
    assert {c.condition: c.participants for c in result.report.conditions} == {
        "control": 3, "guided_backprop": 3, "guided_gradcam": 3}
    assert {u.condition for u in result.report.utilities} == {"guided_backprop",
                                                              "guided_gradcam"}
    for u in result.report.utilities:
        need = result.required[u.condition]
        assert need is None or need >= 2
    assert any("utility guided_backprop" in line for line in result.lines())


def test_observer_learns_decisions_and_saliency():
    import io

    import numpy as np
    from PIL import Image

    def png(rgb):
        buffer = io.BytesIO()
        Image.fromarray(np.full((16, 16, 3), rgb, np.uint8)).save(buffer, format="PNG")
        return buffer.getvalue()

    observer = ModelObserver(seed=0, noise=0.0, lapse=0.0)
    observer.learn(png((250, 0, 0)), "red", None)
    observer.learn(png((0, 0, 250)), "blue", None)
    assert observer.predict(png((200, 10, 10)), ["blue", "red"]) == "red"
    assert observer.predict(png((10, 10, 200)), ["red", "blue"]) == "blue"
    # an unseen class is never chosen over a learned one
    assert observer.predict(png((10, 200, 10)), ["green", "red"]) == "red"
    # saliency: a flat picture is uniform, a bright spot stands out
    assert np.allclose(saliency(png((90, 90, 90))), 1.0)
    spot = np.zeros((16, 16, 3), np.uint8)
    spot[:4, :4] = 255
    buffer = io.BytesIO()
    Image.fromarray(spot).save(buffer, format="PNG")
    weights = saliency(buffer.getvalue())
    assert weights[0, 0] > 1.0 > weights[-1, -1]


def test_cli_pilot_prints_and_stores_for_admin(db_url, tmp_path, fakes, study_file):
    from xai_eval.cli import main
    from xai_eval.studies.build import build_study

    build_study(study_file, db_url)
    result = CliRunner().invoke(main, ["study", "pilot", str(study_file), "--participants",
                                       "3", "--db", db_url, "--seed", "2"])
    assert result.exit_code == 0, result.output
    assert "simulated participants: 9" in result.output
    assert "participants per condition" in result.output or "no effect" in result.output
    assert "stored with study" in result.output
    engine = make_engine(db_url)
    try:
        with session_factory(engine)() as s:
            row = s.scalar(select(AuditLog).where(AuditLog.action == "study_pilot"))
            assert row is not None and row.details["participants"] == 9
            # the real database got no simulated participant
            assert s.scalar(select(Participant)) is None
    finally:
        engine.dispose()


def test_cli_pilot_refuses_within_subject_tasks(tmp_path):
    from tests.studies.conftest import write_definition
    from xai_eval.cli import main

    path = write_definition(tmp_path / "cd.yaml")
    result = CliRunner().invoke(main, ["study", "pilot", str(path)])
    assert result.exit_code != 0
    assert "no simulated participants" in result.output
