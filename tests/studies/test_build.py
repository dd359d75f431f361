"""`study build`: stimuli rendered with provenance, idempotent, changes reported, bad files."""

from __future__ import annotations

import hashlib

import pytest
import yaml
from click.testing import CliRunner
from sqlalchemy import func, select

from xai_eval.db.base import make_engine, session_factory
from xai_eval.db.studies import AuditLog, Item, Stimulus, Study
from xai_eval.studies.build import build_study
from xai_eval.studies.definition import load_definition
from xai_eval.studies.errors import StudyDefinitionError

from .conftest import write_definition


def _rows(url, model, *where):
    engine = make_engine(url)
    try:
        with session_factory(engine)() as s:
            return s.scalars(select(model).where(*where)).all()
    finally:
        engine.dispose()


def test_build_stores_stimuli_with_provenance_and_hash(db_url, build_fake, fake_dataset):
    report = build_fake(db_url)
    assert report.created and report.items_added > 0 and report.stimuli_added > 0
    stimuli = _rows(db_url, Stimulus)
    assert len(stimuli) == report.stimuli_added
    for stim in stimuli:
        assert stim.data.startswith(b"\x89PNG") and (stim.width, stim.height) == (32, 32)
        assert stim.content_hash == hashlib.sha256(stim.data).hexdigest()
        assert stim.explainer in {"guided_backprop", "guided_gradcam"}
        assert stim.model in {"strong", "weak"}
        image = next(i for i in fake_dataset.items if i.image_id == stim.image_id)
        assert stim.class_id in image.classes_present()
    items = _rows(db_url, Item)
    main = [i for i in items if i.kind == "main"]
    # class discrimination: only two-category images, one item per technique
    for item in main:
        image = next(i for i in fake_dataset.items if i.image_id == item.image_id)
        assert len(image.classes_present()) == 2
        assert item.answer_key["correct"] in item.payload["names"]
        assert item.condition in {"guided_backprop", "guided_gradcam"}
    assert {i.kind for i in items} == {"main", "practice", "attention"}


def test_second_build_adds_nothing(db_url, build_fake):
    first = build_fake(db_url)
    second = build_fake(db_url)
    assert second.unchanged and second.items_added == 0 and second.stimuli_added == 0
    assert "up to date" in second.summary()
    assert len(_rows(db_url, Item)) == first.items_added
    assert len(_rows(db_url, Study)) == 1


def test_changed_definition_is_reported_not_applied(db_url, build_fake):
    build_fake(db_url)
    changed = build_fake(db_url, trials_per_participant=3)
    assert changed.changed == ["parameters"] and not changed.replaced
    assert "nothing was written" in changed.summary()
    study = _rows(db_url, Study)[0]
    assert study.parameters["trials_per_participant"] == 4
    replaced = build_fake(db_url, trials_per_participant=3)
    assert not replaced.replaced  # still refused without replace=True


def test_replace_rebuilds_an_unstarted_study(db_url, build_fake, fake_dataset, fake_models,
                                             tmp_path):
    build_fake(db_url)
    path = write_definition(tmp_path / "changed.yaml", trials_per_participant=3)
    report = build_study(path, db_url, dataset=fake_dataset, models=fake_models, replace=True)
    assert report.replaced and report.items_added > 0
    assert _rows(db_url, Study)[0].parameters["trials_per_participant"] == 3
    assert [a.action for a in _rows(db_url, AuditLog)].count("study_build") == 2


def test_trust_items_need_both_models_right(sqlite_url, build_fake, fake_dataset, fake_models):
    build_fake(sqlite_url, task="trust")
    from .conftest import _preprocess

    def predict(name, item):
        return int(fake_models[name].model(_preprocess(item.load_image())[None]).argmax())

    items = [i for i in _rows(sqlite_url, Item) if i.kind != "attention"]
    used = {i.image_id for i in items}
    for image in fake_dataset.items:
        ok = (predict("strong", image) == predict("weak", image)
              and predict("strong", image) in image.classes_present())
        assert (image.image_id in used) == ok, image.image_id
    assert used  # the fixture has qualifying images (red and green ones)
    for item in items:
        assert set(item.payload["stimuli"]) == {"strong", "weak"}
        assert item.answer_key == {"stronger": "strong"}


def test_no_qualifying_items_is_a_clear_error(sqlite_url, fake_models, tmp_path):
    from .conftest import FakeDataset

    single = FakeDataset(tmp_path / "single", layout=[(0,), (1,), (2,)])
    path = write_definition(tmp_path / "s.yaml")
    with pytest.raises(StudyDefinitionError, match="no item of dataset"):
        build_study(path, sqlite_url, dataset=single, models=fake_models)
    assert _rows(sqlite_url, Study) == []  # nothing half-written


def test_missing_explainer_lists_available(tmp_path):
    path = write_definition(tmp_path / "bad.yaml")
    data = yaml.safe_load(path.read_text())
    data["explainers"][0]["name"] = "guided_backprob"
    path.write_text(yaml.safe_dump(data))
    with pytest.raises(StudyDefinitionError) as info:
        load_definition(path)
    message = str(info.value)
    assert "'guided_backprob' is not installed" in message
    assert "guided_backprop" in message and "gradcam" in message


def test_missing_dataset_and_task_list_available(tmp_path):
    path = write_definition(tmp_path / "bad.yaml")
    data = yaml.safe_load(path.read_text())
    data["dataset"] = {"name": "imagenet22k", "root": "/nowhere"}
    data["task"] = "trsut"
    path.write_text(yaml.safe_dump(data))
    with pytest.raises(StudyDefinitionError) as info:
        load_definition(path)
    message = str(info.value)
    assert "dataset 'imagenet22k' is not installed; available: embedded" in message
    assert "task 'trsut' is not installed; available: class_discrimination, model_prediction, trust" in message


@pytest.mark.parametrize("mutate, expected", [
    (lambda d: d.pop("models"), "models: Field required"),
    (lambda d: d.update(explainers=[]), "explainers: List should have at least 1 item"),
    (lambda d: d["parameters"].update(trials_per_participant=0), "trials_per_participant"),
    (lambda d: d.update(slug="Bad Slug!"), "slug"),
    (lambda d: d.update(colour="red"), "colour: Extra inputs are not permitted"),
    (lambda d: d.update(explainers=[{"name": "gradcam"}, {"name": "gradcam"}]),
     "repeated: gradcam"),
])
def test_schema_errors_name_the_field(tmp_path, mutate, expected):
    path = write_definition(tmp_path / "bad.yaml")
    data = yaml.safe_load(path.read_text())
    mutate(data)
    path.write_text(yaml.safe_dump(data))
    with pytest.raises(StudyDefinitionError, match="invalid study definition") as info:
        load_definition(path)
    assert expected in str(info.value)


def test_unreadable_files(tmp_path):
    with pytest.raises(StudyDefinitionError, match="does not exist"):
        load_definition(tmp_path / "nope.yaml")
    bad = tmp_path / "bad.yaml"
    bad.write_text("slug: [unclosed")
    with pytest.raises(StudyDefinitionError, match="not valid YAML"):
        load_definition(bad)
    bad.write_text("- a list\n")
    with pytest.raises(StudyDefinitionError, match="must be a YAML mapping"):
        load_definition(bad)


@pytest.mark.parametrize("name", ["class_discrimination", "trust"])
def test_shipped_study_files_are_valid(name):
    from pathlib import Path

    definition = load_definition(Path(__file__).parents[2] / "studies" / f"{name}.yaml")
    assert definition.task == name and definition.slug == name
    if name == "class_discrimination":
        assert [e.name for e in definition.explainers] == [
            "deconvnet", "deconv_gradcam", "guided_backprop", "guided_gradcam"]
    else:
        assert definition.parameters.stronger_model == "auto"


def test_cli_check_and_build_errors(tmp_path, sqlite_url):
    from xai_eval.cli import main

    runner = CliRunner()
    good = write_definition(tmp_path / "ok.yaml")
    result = runner.invoke(main, ["study", "check", str(good)])
    assert result.exit_code == 0 and "trials_per_participant: 4" in result.output
    result = runner.invoke(main, ["study", "build", str(tmp_path / "missing.yaml"),
                                  "--db", sqlite_url])
    assert result.exit_code == 2 and "does not exist" in result.output
    result = runner.invoke(main, ["study", "list", "--db", sqlite_url])
    assert result.exit_code == 2 and "db upgrade" in result.output
    assert "Render FILE" in runner.invoke(main, ["study", "build", "--help"]).output


def test_build_audits(db_url, build_fake):
    build_fake(db_url)
    audit = _rows(db_url, AuditLog)
    assert [a.action for a in audit] == ["study_build"]
    engine = make_engine(db_url)
    with session_factory(engine)() as s:
        assert s.scalar(select(func.count()).select_from(Stimulus)) == audit[0].details["stimuli"]
    engine.dispose()


def test_trust_stronger_model_auto_is_measured(sqlite_url, build_fake):
    build_fake(sqlite_url, task="trust", stronger_model="auto")
    keys = {i.answer_key["stronger"] for i in _rows(sqlite_url, Item) if i.kind == "main"}
    assert keys == {"strong"}  # right on every image, the weak model misses blue ones


def test_trust_unknown_stronger_model(sqlite_url, build_fake):
    with pytest.raises(StudyDefinitionError, match="stronger_model 'vgg' is not one of"):
        build_fake(sqlite_url, task="trust", stronger_model="vgg")


def test_definition_hash_ignores_spelled_out_defaults(tmp_path):
    plain = load_definition(write_definition(tmp_path / "a.yaml"))
    spelled = load_definition(write_definition(tmp_path / "b.yaml", abandon_after_minutes=120,
                                               distinct_images=False))
    changed = load_definition(write_definition(tmp_path / "c.yaml", abandon_after_minutes=30))
    assert plain.canonical_hash() == spelled.canonical_hash() != changed.canonical_hash()


def test_cli_results_and_export(study_db, db_url, tmp_path):
    import csv
    import json

    from xai_eval.cli import main
    from xai_eval.studies import participant_service as service
    from xai_eval.studies.platform import PlatformVisit

    factory, slug = study_db
    with factory() as s:
        started = service.start_or_resume(s, service.get_study(s, slug), PlatformVisit())
    while True:
        with factory() as s:
            view = service.next_trial(s, started.token)
            if isinstance(view, service.Finished):
                break
            service.submit_answer(s, started.token, view.trial_id, view.options[0].value, 900)
    runner = CliRunner()
    out = runner.invoke(main, ["study", "results", slug, "--db", db_url, "--json"])
    assert out.exit_code == 0, out.output
    data = json.loads(out.output)
    assert data["completed"] == 1 and data["kind"] == "accuracy"
    table = runner.invoke(main, ["study", "results", slug, "--db", db_url])
    assert "completed participants analysed" in table.output
    target = tmp_path / "answers.csv"
    exported = runner.invoke(main, ["study", "export", slug, "--db", db_url, "-o", str(target)])
    assert exported.exit_code == 0 and "wrote 6 answers" in exported.output
    with target.open() as handle:
        rows = list(csv.DictReader(handle))
    assert len(rows) == 6 and json.loads(rows[0]["side_mapping"])["positions"]
    missing = runner.invoke(main, ["study", "results", "nope", "--db", db_url])
    assert missing.exit_code == 1 and "no study named 'nope'" in missing.output
