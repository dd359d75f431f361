"""Intervals on every cell, paired comparisons and the verdict."""

from __future__ import annotations

import csv
import json

import numpy as np
import pytest
import torch
from xai_eval_localization_metrics import MaskIoU, PointingGame, PxAP

from xai_eval.metrics.base import MetricSample
from xai_eval.suite.config import parse_suite
from xai_eval.suite.pipeline import run_suite
from xai_eval.suite.results import summarize
from xai_eval.suite.runner import RunOptions
from xai_eval.suite.state_vectors import compute_from_vector, image_states
from xai_eval.suite.tables import build_table
from xai_eval.suite.uncertainty import run_uncertainty
from xai_eval.suite.verdict import build_verdict

from .conftest import suite_dict


def _records(metric, seed: int, images: int = 12):
    rng = np.random.default_rng(seed)
    by_image = {}
    for index in range(images):
        image = f"im{index:02d}"
        by_image[image] = []
        for class_id in rng.choice(3, size=rng.integers(1, 3), replace=False):
            mask = np.zeros((16, 16), dtype=bool)
            y, x = rng.integers(0, 10, 2)
            mask[y:y + 6, x:x + 6] = True
            sample = MetricSample(image_id=image, gt_class=int(class_id),
                                  saliency=torch.from_numpy(rng.random((16, 16))),
                                  gt_boxes=torch.tensor([[x, y, x + 6, y + 6]], dtype=torch.float32),
                                  gt_mask=torch.from_numpy(mask))
            record = dict(metric.score(sample))
            record.update(image_id=image, class_id=int(class_id))
            by_image[image].append(record)
    return by_image


@pytest.mark.parametrize("cls", [PointingGame, MaskIoU, PxAP])
def test_state_vectors_give_exactly_the_reaggregated_resample(cls):
    by_image = _records(cls(tolerance=3) if cls is PointingGame else cls(), seed=1)
    images = sorted(by_image)
    make = (lambda: cls(tolerance=3)) if cls is PointingGame else cls
    layout, matrix, template = image_states(make, by_image, images)
    rng = np.random.default_rng(2)
    for _ in range(5):
        picks = rng.integers(0, len(images), len(images))
        counts = np.bincount(picks, minlength=len(images)).astype(float)
        fast = compute_from_vector(make, layout, counts @ matrix, template)
        slow = make().aggregate([r for p in picks for r in by_image[images[p]]])
        for key, value in slow.items():
            if value is None:
                assert fast[key] is None
            else:
                assert fast[key] == pytest.approx(value, rel=1e-12), key


def _rows(hits_by_explainer: dict[str, list[bool]]):
    rows = []
    for explainer, hits in hits_by_explainer.items():
        for index, hit in enumerate(hits):
            rows.append({"dataset": "boxes", "model": "gap", "explainer": explainer,
                         "metric": "pointing_game", "image_id": f"im{index:02d}",
                         "class_id": index % 2, "values": {"hit": hit, "difficult": False}})
    return rows


def test_planted_difference_is_significant_and_identical_explainers_tie(tmp_path, registries):
    config = parse_suite(suite_dict(tmp_path, models=[{"id": "gap", "spec": "fake:gap"}],
                                    explainers=["gradcam", "cam", "backprop"],
                                    metrics=["pointing_game"]))
    rng = np.random.default_rng(0)
    good = list(rng.random(40) < 0.9)
    rows = _rows({"gradcam": good, "cam": list(good), "backprop": list(rng.random(40) < 0.2)})
    uncertainty = run_uncertainty(rows, config, registries, resamples=400)
    summary = summarize(rows, config, registries)
    table = build_table(summary, config)
    cell = uncertainty.cells[("boxes", "gap", "gradcam", "pointing game")]
    assert cell.estimate == pytest.approx(table.rows[0]["pointing game"])
    assert cell.low < cell.estimate < cell.high
    different = uncertainty.different("boxes", "gap", "pointing game")
    assert ("gradcam", "backprop") in different and ("cam", "backprop") in different
    assert ("gradcam", "cam") not in different
    same = [c for c in uncertainty.comparisons if {c.a, c.b} == {"gradcam", "cam"}][0]
    assert same.p_value == 1.0 and same.difference.low == same.difference.high == 0.0
    (family,) = build_verdict(config, registries, uncertainty).families
    assert family.family == "localization"
    letters = {e.explainer: e.letters for e in family.columns[0].entries}
    assert letters["gradcam"] == letters["cam"] == "a" and letters["backprop"] == "b"
    assert [e for e, _, _ in family.order][-1] == "backprop"
    # same seed, same intervals
    again = run_uncertainty(rows, config, registries, resamples=400)
    assert again.cells == uncertainty.cells


def test_reports_open_with_the_verdict_and_keep_results_csv(tmp_path, registries, fake_plugin,
                                                            sqlite_url):
    root = fake_plugin.make_dataset(tmp_path / "data", count=8)
    config = parse_suite(suite_dict(root, explainers=["gradcam", "backprop"],
                                    metrics=["fake_hit", "pointing_game"],
                                    report={"examples": 0, "resamples": 50}))
    result = run_suite(config, RunOptions(db_url=sqlite_url, progress=False,
                                          echo=lambda m: None), tmp_path / "out", registries)
    files = result.files
    header = files.csv.read_text().splitlines()[0]
    assert header == ",".join(result.table.columns)  # results.csv: no new columns
    intervals = list(csv.DictReader(files.extra["intervals"].open()))
    columns = {(r["model"], r["method"], r["column"]) for r in intervals}
    for row in result.table.rows:  # every numeric cell with a value has an interval
        for column in result.table.numeric_columns():
            if row[column] is not None:
                assert (row["model"], row["method"], column) in columns
    assert list(csv.DictReader(files.extra["comparisons"].open()))
    payload = json.loads(files.json.read_text())
    assert payload["verdict"]["families"] and payload["intervals"] and payload["comparisons"]
    page = files.html.read_text()
    assert page.index("<h2>Verdict</h2>") < page.index("<h2>Results</h2>")
    assert 'class="ci">[' in page


def test_resamples_zero_turns_the_analysis_off(tmp_path, registries, fake_plugin, sqlite_url):
    root = fake_plugin.make_dataset(tmp_path / "data", count=4)
    config = parse_suite(suite_dict(root, explainers=["gradcam"], metrics=["fake_hit"],
                                    report={"examples": 0, "resamples": 0}))
    result = run_suite(config, RunOptions(db_url=sqlite_url, progress=False,
                                          echo=lambda m: None), tmp_path / "out", registries)
    assert "intervals" not in result.files.extra
    assert "<h2>Verdict</h2>" not in result.files.html.read_text()


def test_metric_agreement_aligns_directions(tmp_path, registries):
    from xai_eval.suite.agreement import metric_agreement
    from xai_eval.suite.tables import ResultTable

    config = parse_suite(suite_dict(tmp_path, models=[{"id": "gap", "spec": "fake:gap"}],
                                    explainers=["gradcam", "cam", "backprop", "center"],
                                    metrics=["pointing_game", "localization_error", "pxap"]))
    rows = [{"dataset": "boxes", "model": "gap", "method": m, "pointing game": pg,
             "GT-known loc err": err, "PxAP": ap}
            for m, pg, err, ap in [("gradcam", 90.0, 10.0, 60.0), ("cam", 80.0, 20.0, 70.0),
                                   ("backprop", 50.0, 40.0, 40.0), ("center", 10.0, 90.0, 30.0)]]
    table = ResultTable(["dataset", "model", "method", "pointing game", "GT-known loc err",
                         "PxAP"], rows)
    (agreement,) = metric_agreement(table, config, registries)
    # the error column is negated: lower error = better = the same order as the pointing game
    assert agreement.matrix[("pointing game", "GT-known loc err")] == pytest.approx(1.0)
    assert agreement.matrix[("pointing game", "PxAP")] == pytest.approx(0.8)
    assert agreement.alpha["localization"] is not None
    assert 0 < agreement.alpha["all"] < 1


def test_reliability_table_for_a_tiny_suite(tmp_path, registries, fake_plugin, sqlite_url):
    root = fake_plugin.make_dataset(tmp_path / "data", count=6)
    config = parse_suite(suite_dict(root, models=[{"id": "gap", "spec": "fake:gap"}],
                                    explainers=["gradcam", "backprop", "cam"],
                                    metrics=["pointing_game", "energy_pointing_game"],
                                    report={"examples": 0, "resamples": 20,
                                            "reliability": 6}))
    result = run_suite(config, RunOptions(db_url=sqlite_url, progress=False,
                                          echo=lambda m: None), tmp_path / "out", registries)
    payload = json.loads(result.files.json.read_text())
    rows = payload["verdict"]["metric_reliability"]
    assert {r["metric"] for r in rows} == {"pointing_game", "energy_pointing_game"}
    for row in rows:
        assert row["explainers"] == 3 and row["images"] >= 2
        for key in ("iac_nr", "iac_ar", "iec_nr", "iec_ar", "mc"):
            assert row[key] is None or 0.0 <= row[key] <= 1.0
    assert "<h2>Metric reliability</h2>" in result.files.html.read_text()
