"""`xai-eval gapify` glue: cut + GAP/GMP head + fine-tune + save, then CAM works in a suite."""

from __future__ import annotations

import pytest

from xai_eval.cli.gapify_run import open_dataset_spec, run_gapify
from xai_eval.errors import InputValidationError, MissingResourceError
from xai_eval.suite.config import parse_suite
from xai_eval.suite.runner import RunOptions, SuiteRunner

from .conftest import suite_dict


@pytest.mark.parametrize("pool", ["avg", "max"])
def test_gapified_model_runs_cam_only_with_average_pooling(tmp_path, registries, dataset_root,
                                                           sqlite_url, pool):
    out = tmp_path / f"fc-{pool}.pth"
    lines: list[str] = []
    history = run_gapify("fake:fc", "features.3", f"fakeboxes:{dataset_root}", 1, out, pool,
                         8, 0.01, 4, val_spec=f"fakeboxes:{dataset_root}", registries=registries,
                         progress=False, echo=lines.append)
    assert out.is_file() and history["steps"] == 3 and 0 <= history["val_accuracy"] <= 1
    assert "held-out accuracy" in lines[-2] and "gapified" in lines[-1]
    config = parse_suite(suite_dict(dataset_root, models=[
        {"id": "fcgap", "spec": "fake:fc", "gapified": str(out)}], explainers=["cam", "gradcam"],
        metrics=["fake_hit"]))
    outcome = SuiteRunner(config, registries, RunOptions(
        db_url=sqlite_url, progress=False, echo=lambda _m: None)).run()
    assert outcome.complete
    skipped = [(m, e) for m, e, _d, _r in outcome.skipped_pairs]
    # GAP head: CAM applies; GMP head: CAM is refused (the paper's GAP-vs-GMP comparison)
    assert skipped == ([] if pool == "avg" else [("fcgap", "cam")])


def test_dataset_spec_errors(tmp_path, registries):
    with pytest.raises(InputValidationError, match="needs a root folder"):
        open_dataset_spec("fakeboxes", registries)
    with pytest.raises(MissingResourceError, match="does not exist"):
        open_dataset_spec(f"fakeboxes:{tmp_path / 'none'}", registries)


def test_missing_gapified_weights_say_how_to_make_them(tmp_path, registries, dataset_root,
                                                       sqlite_url):
    config = parse_suite(suite_dict(dataset_root, models=[
        {"id": "g", "spec": "fake:fc", "gapified": str(tmp_path / "absent.pth")}]))
    with pytest.raises(MissingResourceError, match="xai-eval gapify --model fake:fc"):
        SuiteRunner(config, registries, RunOptions(db_url=sqlite_url, progress=False,
                                                   echo=lambda _m: None)).run()
