"""Suite YAML validation: clear errors for unknown names and malformed files; the run id."""

from __future__ import annotations

from pathlib import Path

import pytest

from xai_eval.suite.config import SuiteConfigError, default_suite_path, load_suite, parse_suite

from .conftest import suite_dict


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "suite.yaml"
    path.write_text(text)
    return path


@pytest.mark.parametrize(("field", "value", "noun"), [
    ("explainers", ["gradcam", "gradkam"], "explainer 'gradkam'"),
    ("metrics", ["fake_hit", "pointing_gaem"], "metric 'pointing_gaem'"),
    ("datasets", [{"format": "cocoo", "root": "."}], "dataset format 'cocoo'"),
])
def test_unknown_names_list_the_available_ones(tmp_path, registries, field, value, noun):
    config = parse_suite(suite_dict(tmp_path, **{field: value}))
    with pytest.raises(SuiteConfigError) as info:
        config.check_names(registries)
    message = str(info.value)
    assert f"unknown {noun}" in message
    kind = {"explainers": "explainers", "metrics": "metrics", "datasets": "datasets"}[field]
    for name in registries.names(kind):
        assert name in message  # every available name is listed


def test_load_suite_checks_names(tmp_path, registries):
    path = write(tmp_path, "models: [fake:gap]\nexplainers: [nope]\n"
                           "datasets: [{format: fakeboxes, root: .}]\n")
    with pytest.raises(SuiteConfigError, match="unknown explainer 'nope'; available: .*gradcam"):
        load_suite(path, registries)


@pytest.mark.parametrize(("text", "expected"), [
    ("models: [", "not valid YAML"),
    ("- a\n- b\n", "must be a YAML mapping"),
    ("explainers: [gradcam]\ndatasets: [{format: coco}]\n", "models: Field required"),
    ("models: []\nexplainers: [gradcam]\ndatasets: [{format: coco}]\n",
     "models: Value error, must list at least one entry"),
    ("models: [a]\nexplainers: [gradcam]\ndatasets: [{format: coco}]\nbatch_size: 0\n",
     "batch_size: Input should be greater than or equal to 1"),
    ("models: [a]\nexplainers: [gradcam]\ndatasets: [{format: coco}]\ncolour: red\n",
     "colour: Extra inputs are not permitted"),
    ("models: [a]\nexplainers: [gradcam, gradcam]\ndatasets: [{format: coco}]\n",
     "explainers ids must be unique; ['gradcam']"),
    ("models: [a]\nexplainers: [{name: cam, models: [b]}]\ndatasets: [{format: coco}]\n",
     "restricted to models ['b']"),
])
def test_malformed_suites_say_what_is_wrong(tmp_path, text, expected):
    with pytest.raises(SuiteConfigError) as info:
        load_suite(write(tmp_path, text))
    assert expected in str(info.value)


def test_missing_suite_file(tmp_path):
    with pytest.raises(SuiteConfigError, match="does not exist"):
        load_suite(tmp_path / "absent.yaml")


def test_shorthand_entries_and_defaults(tmp_path):
    config = parse_suite(suite_dict(tmp_path, metrics=[
        "fake_hit", {"name": "pointing_game"}, {"name": "deletion", "max_images": 5}]))
    assert [e.id for e in config.explainers] == ["gradcam", "cam", "backprop"]
    assert config.metrics[0].classes == "label"
    assert config.metrics[1].classes == "all"  # pointing game: every class present
    assert config.metrics[2].max_images == 5
    assert config.models[0].id == "gap"


def test_run_id_is_a_stable_hash_of_the_resolved_config(tmp_path, monkeypatch):
    a = parse_suite(suite_dict(tmp_path))
    b = parse_suite(suite_dict(tmp_path))
    assert a.run_id() == b.run_id() and len(a.run_id()) == 32
    assert a.run_id("other") != a.run_id()  # a user-given name separates runs
    changed = parse_suite(suite_dict(tmp_path, batch_size=4))
    assert changed.run_id() != a.run_id()
    # presentation settings are not part of the identity
    assert parse_suite(suite_dict(tmp_path, report={"examples": 0})).run_id() == a.run_id()
    # relative roots resolve against the suite's folder
    relative = parse_suite(suite_dict(Path("data")))
    monkeypatch.chdir(tmp_path.parent)
    assert relative.resolved(tmp_path)["datasets"][0]["root"] == str((tmp_path / "data").resolve())


def test_metric_region_defaults_to_the_object_and_separates_runs(tmp_path):
    plain = parse_suite(suite_dict(tmp_path, metrics=["fake_hit"]))
    assert plain.metrics[0].region == "object"
    explicit = parse_suite(suite_dict(tmp_path, metrics=[{"name": "fake_hit", "region": "object"}]))
    assert explicit.run_id() == plain.run_id()  # older runs keep their ids
    evidence = parse_suite(suite_dict(tmp_path, metrics=[{"name": "fake_hit", "region": "evidence"}]))
    assert evidence.run_id() != plain.run_id()
    with pytest.raises(SuiteConfigError, match="region"):
        parse_suite(suite_dict(tmp_path, metrics=[{"name": "fake_hit", "region": "background"}]))


def test_default_suite_parses():
    config = load_suite(default_suite_path())
    assert {m.spec for m in config.models} == {"embedded:gap", "embedded:fc"}
    assert {"cam", "gradcam", "guided_backprop"} <= {e.name for e in config.explainers}


def test_methods_switch_paper_keeps_the_table_and_all_adds_the_pool(tmp_path):
    pool = [{"name": "rise", "options": {"n_masks": 8}}, "gradcam"]  # gradcam: already listed
    paper = parse_suite(suite_dict(tmp_path, more_explainers=pool))
    plain = parse_suite(suite_dict(tmp_path))
    assert [e.id for e in paper.explainers] == ["gradcam", "cam", "backprop"]
    assert paper.run_id() == plain.run_id()  # the pool does not change a paper run's identity
    full = parse_suite(suite_dict(tmp_path, more_explainers=pool, methods="all"))
    assert [e.id for e in full.explainers] == ["gradcam", "cam", "backprop", "rise"]
    assert full.explainers[-1].options == {"n_masks": 8}
    assert full.run_id() != plain.run_id()
    again = parse_suite(full.model_dump(mode="json"))  # re-validating does not add twice
    assert [e.id for e in again.explainers] == [e.id for e in full.explainers]
    with pytest.raises(SuiteConfigError, match="methods"):
        parse_suite(suite_dict(tmp_path, methods="everything"))


def test_default_suite_methods_all_is_the_zoo():
    from xai_eval.plugins import default_registries

    paper = load_suite(default_suite_path(), default_registries())
    full = load_suite(default_suite_path(), default_registries(), methods="all")
    added = [e.name for e in full.explainers][len(paper.explainers):]
    assert {"gradcam_pp", "xgradcam", "layercam", "hirescam", "eigencam", "scorecam",
            "ablationcam", "rise", "integrated_gradients", "smoothgrad", "smoothgrad_sq",
            "vargrad", "input_x_gradient"} == set(added)
    assert [e.name for e in full.explainers][:len(paper.explainers)] == \
        [e.name for e in paper.explainers]
