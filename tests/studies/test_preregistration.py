"""Pre-registration (one document + hash, frozen after the first participant, stored with the
results) and the admin page's design section (pilot, utility, human beside automatic)."""

from __future__ import annotations

import hashlib
import secrets

import pytest
import yaml
from click.testing import CliRunner

from tests.studies.conftest import write_definition
from xai_eval.db.base import make_engine, session_factory
from xai_eval.studies import admin_service
from xai_eval.studies import participant_service as service
from xai_eval.studies.build import build_study
from xai_eval.studies.errors import StudyDefinitionError
from xai_eval.studies.platform import parse_visit
from xai_eval.studies.utility import UtilityReport, utility_against_control
from xai_eval.studies.utility_admin import human_versus_automatic

PARAMS = {"classes": ["red", "green", "blue"], "model": "weak", "scenario": "all",
          "training_items": 4, "test_items": 4, "trials_per_participant": 4,
          "practice_trials": 4, "attention_checks": 0}
SLUG = "test_model_prediction"
HYPOTHESES = ["Participants trained with Guided Backprop predict the model better than the "
              "control (utility > 0).", "No explainer helps on failure cases."]


def _file(tmp_path, hypotheses=HYPOTHESES, plan="Bonferroni over the two explainers."):
    path = write_definition(tmp_path / "mp.yaml", "model_prediction", **PARAMS)
    data = yaml.safe_load(path.read_text())
    data["preregistration"] = {"hypotheses": hypotheses, "analysis_plan": plan}
    path.write_text(yaml.safe_dump(data))
    return path


@pytest.fixture
def built(db_url, tmp_path, fake_dataset, fake_models):
    path = _file(tmp_path)
    build_study(path, db_url, dataset=fake_dataset, models=fake_models)
    engine = make_engine(db_url)
    yield session_factory(engine), path
    engine.dispose()


def test_document_has_every_part_and_a_stable_hash(built):
    factory, _ = built
    with factory() as s:
        study = admin_service.get_study(s, SLUG)
        doc = admin_service.preregistration_document(study)
        again = admin_service.preregistration_document(study)
        definition_hash = study.definition_hash
    assert doc.sha256 == again.sha256 == hashlib.sha256(doc.text.encode()).hexdigest()
    for part in ("## Hypotheses", "1. Participants trained with Guided Backprop",
                 "2. No explainer helps on failure cases.", "## Exclusion rules",
                 "median response time is under 500 ms", "## Analysis plan",
                 "Welch 95% CI", "Bonferroni over the two explainers.",
                 "## Frozen study definition", definition_hash):
        assert part in doc.text


def test_changing_the_registration_after_the_first_participant_needs_a_new_version(
        built, db_url, tmp_path, fake_dataset, fake_models):
    factory, _ = built
    changed = _file(tmp_path, hypotheses=[*HYPOTHESES, "A third, added later."])
    # before anyone starts, --replace may still change it
    report = build_study(changed, db_url, dataset=fake_dataset, models=fake_models,
                         replace=True)
    assert report.replaced and report.changed == ["preregistration"]
    with factory() as s:
        service.start_or_resume(s, service.get_study(s, SLUG), parse_visit({}))
    for edit in ({"hypotheses": HYPOTHESES}, {"plan": "a different plan"}):
        path = _file(tmp_path, **edit)
        report = build_study(path, db_url, dataset=fake_dataset, models=fake_models)
        assert report.changed == ["preregistration"] and not report.replaced
        assert "nothing was written" in report.summary()
        with pytest.raises(StudyDefinitionError, match="has 1 participants; it cannot be "
                                                       "replaced"):
            build_study(path, db_url, dataset=fake_dataset, models=fake_models, replace=True)
    # stricter exclusion rules are a change of the registration too
    path = write_definition(tmp_path / "ex.yaml", "model_prediction",
                            **{**PARAMS, "exclusion": {"min_attention_pass": 0.5}})
    data = yaml.safe_load(path.read_text())
    data["preregistration"] = {"hypotheses": [*HYPOTHESES, "A third, added later."],
                               "analysis_plan": "Bonferroni over the two explainers."}
    path.write_text(yaml.safe_dump(data))
    report = build_study(path, db_url, dataset=fake_dataset, models=fake_models)
    assert report.changed == ["parameters"] and not report.replaced


def test_results_export_and_cli_carry_the_hash(built, db_url, tmp_path):
    from xai_eval.cli import main

    factory, _ = built
    with factory() as s:
        study = admin_service.get_study(s, SLUG)
        sha = admin_service.preregistration_document(study).sha256
        rows = admin_service.export_results(s, study, "test")
    assert all(row["preregistration_sha256"] == sha for row in rows)
    out = tmp_path / "prereg.md"
    result = CliRunner().invoke(main, ["study", "preregistration", SLUG, "--db", db_url,
                                       "-o", str(out)])
    assert result.exit_code == 0, result.output
    assert f"sha256: {sha}" in result.output
    assert hashlib.sha256(out.read_bytes()).hexdigest() == sha


def test_admin_page_shows_registration_pilot_and_utility(built, db_url, tmp_path):
    from tests.web.test_security import ADMIN_PASSWORD, ADMIN_USER, login
    from xai_eval.web.app import create_app

    factory, _ = built
    with factory() as s:
        admin_service.create_admin(s, ADMIN_USER, ADMIN_PASSWORD)
        study = admin_service.get_study(s, SLUG)
        sha = admin_service.preregistration_document(study).sha256
    app = create_app({"DATABASE_URL": db_url, "SECRET_KEY": secrets.token_hex(8),
                      "TESTING": True})
    app.instance_path = str(tmp_path)
    try:
        client = app.test_client()
        login(client)
        page = client.get(f"/admin/studies/{SLUG}").get_data(as_text=True)
        assert sha in page and "No pilot stored for this definition" in page
        assert 'id="utility"' in page
        doc = client.get(f"/admin/studies/{SLUG}/preregistration.md")
        assert doc.status_code == 200 and doc.headers["X-Content-SHA256"] == sha
        with factory() as s:
            admin_service.record_audit(s, "cli", "study_pilot", admin_service.get_study(s, SLUG),
                                       {"definition_hash": study.definition_hash,
                                        "lines": ["utility guided_backprop +0.100"]})
        page = client.get(f"/admin/studies/{SLUG}").get_data(as_text=True)
        assert "utility guided_backprop +0.100" in page
    finally:
        from xai_eval.web.database import binding

        binding(app).engine.dispose()


def test_human_beside_automatic_correlates_across_explainers(built, db_url):
    from xai_eval.db.results import MetricResult

    factory, _ = built
    names = ["guided_backprop", "guided_gradcam"]
    report = UtilityReport(1 / 3, [], [utility_against_control(n, [a, a + 0.1], [0.3, 0.4])
                                       for n, a in zip(names, [0.5, 0.7], strict=True)], [])
    with factory() as s:
        study = admin_service.get_study(s, SLUG)
        empty = human_versus_automatic(s, study, report)
        assert empty.message and not empty.rows  # no metric results yet: said, not an error
    _add_metric_rows(db_url, MetricResult, {"guided_backprop": 0.2, "guided_gradcam": 0.6})
    with factory() as s:
        table = human_versus_automatic(s, admin_service.get_study(s, SLUG), report)
    assert table.headers == ["explainer", "utility", "pointing_game"]
    assert table.rows[0][:2] == ["guided_backprop", "+0.200"]  # 0.55 - 0.35
    assert table.rows[0][2] == "0.2000" and table.rows[1][2] == "0.6000"
    (corr,) = table.correlations
    assert corr["n"] == 2 and corr["rho"] == pytest.approx(1.0) and corr["low"] is None
    assert table.warnings and "says nothing" in table.warnings[0]


def _add_metric_rows(db_url, model, values):
    """Metric-suite rows as the suite writes them (one run, one sample per explainer)."""
    from xai_eval.db.results import Run

    engine = make_engine(db_url)
    try:
        with session_factory(engine)() as s:
            s.add(Run(id="run1", name="test", config_hash="0" * 64, config={},
                      xai_eval_version="test"))
            s.flush()
            for explainer, value in values.items():
                s.add(model(run_id="run1", model="weak", explainer=explainer, dataset="fake",
                            metric="pointing_game", image_id="img000", class_id=0,
                            values={"value": value}))
            s.commit()
    finally:
        engine.dispose()


def test_cli_results_print_utility_and_registration(built, db_url):
    from xai_eval.cli import main

    factory, _ = built
    for _ in range(4):  # balanced over 3 conditions: every condition gets one or two
        with factory() as s:
            token = service.start_or_resume(s, service.get_study(s, SLUG), parse_visit({})).token
            while not isinstance(view := service.next_trial(s, token), service.Finished):
                answer = "next" if view.extra.get("phase_label") == "Training." else "red"
                service.submit_answer(s, token, view.trial_id, answer, 900)
    with factory() as s:
        sha = admin_service.preregistration_document(admin_service.get_study(s, SLUG)).sha256
    result = CliRunner().invoke(main, ["study", "results", SLUG, "--db", db_url])
    assert result.exit_code == 0, result.output
    assert f"pre-registration sha256: {sha}" in result.output
    assert "utility guided_backprop vs control" in result.output
    assert "utility guided_gradcam vs control" in result.output
    as_json = CliRunner().invoke(main, ["study", "results", SLUG, "--db", db_url, "--json"])
    import json

    data = json.loads(as_json.output)
    assert data["preregistration_sha256"] == sha and "utilities" in data["utility"]
