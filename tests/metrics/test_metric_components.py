"""The one-pass component tree against per-threshold labelling (the code it replaced).

Every comparison is exact (``np.array_equal``): the same components, the same boxes, the
same float64 IoUs, the same tie rule. Maps are small and coarsely quantised so ties in
value (plateaus spanning thresholds), ties in component size and many components occur
constantly; a few full-size 224x224 maps (smooth and i.i.d. noise) are checked too.
"""

from __future__ import annotations

import threading

import numpy as np
import pytest
import torch
from xai_eval_localization_metrics import MaxBoxAcc

from xai_eval.errors import InputValidationError
from xai_eval.metrics.base import MetricSample
from xai_eval.metrics.boxes import box_from_saliency, component_boxes
from xai_eval.metrics.components import label_boxes, pixel_levels_of, sweep_best_ious
from xai_eval.metrics.packing import unpack
from xai_eval.metrics.shapes import normalize_map
from xai_eval.metrics.wsol import best_ious_per_threshold, threshold_grid

from .reference_boxes import reference_best_ious, reference_component_boxes

STEPS = (0.05, 0.1, 0.125, 0.25, 0.3, 0.01)


def _random_map(rng: np.random.Generator, index: int) -> np.ndarray:
    height, width = (int(v) for v in rng.integers(1, 14, 2))
    kind = index % 4
    if kind == 0:  # few distinct values: plateaus, size ties
        return rng.integers(0, 4, (height, width)).astype(np.float64)
    if kind == 1:  # continuous values
        return rng.random((height, width))
    if kind == 2:  # values on a coarse grid that the thresholds may hit exactly
        return np.round(rng.random((height, width)) * int(rng.integers(1, 20))) / 7.0
    sal = np.zeros((height, width))  # sparse blobs on a flat background
    sal[rng.random((height, width)) < 0.3] = rng.random()
    return sal


def _random_boxes(rng: np.random.Generator, height: int, width: int) -> np.ndarray:
    count = int(rng.integers(1, 4))
    xs = np.sort(rng.integers(0, width + 1, (count, 2)), axis=1)
    ys = np.sort(rng.integers(0, height + 1, (count, 2)), axis=1)
    return np.stack([xs[:, 0], ys[:, 0], xs[:, 1], ys[:, 1]], axis=1).astype(np.float64)


def _random_thresholds(rng: np.random.Generator, index: int) -> np.ndarray:
    grid = threshold_grid(STEPS[index % len(STEPS)])
    if index % 5 == 0:  # unsorted, repeated, out of range: any array is allowed
        return rng.permutation(np.concatenate([grid, grid[:3], [-0.5, 1.0, 1.5]]))
    return grid


@pytest.mark.parametrize("connectivity", [4, 8])
def test_sweep_equals_per_threshold_labelling_on_random_maps(connectivity: int) -> None:
    rng = np.random.default_rng(connectivity)
    for index in range(2500):
        sal = _random_map(rng, index)
        gt = _random_boxes(rng, *sal.shape)
        thresholds = _random_thresholds(rng, index)
        normalization = "minmax" if index % 3 else "max"
        expected = reference_best_ious(sal, gt, thresholds, normalization=normalization,
                                       connectivity=connectivity)
        got = best_ious_per_threshold(sal, gt, thresholds, normalization=normalization,
                                      connectivity=connectivity)
        assert np.array_equal(got[0], expected[0]), (index, "all components")
        assert np.array_equal(got[1], expected[1]), (index, "largest component")


def _smooth_map(seed: int, grid: int = 7) -> np.ndarray:
    coarse = torch.randn(1, 1, grid, grid, generator=torch.Generator().manual_seed(seed))
    up = torch.nn.functional.interpolate(coarse, size=(224, 224), mode="bilinear",
                                         align_corners=False)
    return up[0, 0].clamp(min=0).double().numpy()


@pytest.mark.parametrize("connectivity", [4, 8])
def test_sweep_equals_labelling_on_full_size_maps(connectivity: int) -> None:
    rng = np.random.default_rng(5)
    maps = [_smooth_map(0), _smooth_map(1, grid=14), rng.random((224, 224)),
            np.round(rng.random((224, 224)) * 9)]
    gt = np.array([[40.0, 60.0, 170.0, 200.0], [0.0, 0.0, 30.0, 224.0]])
    thresholds = threshold_grid(0.01)
    for sal in maps:
        expected = reference_best_ious(sal, gt, thresholds, connectivity=connectivity)
        got = best_ious_per_threshold(sal, gt, thresholds, connectivity=connectivity)
        assert np.array_equal(got[0], expected[0])
        assert np.array_equal(got[1], expected[1])


@pytest.mark.parametrize("connectivity", [4, 8])
def test_label_boxes_equal_scipy_labelling(connectivity: int) -> None:
    rng = np.random.default_rng(10 + connectivity)
    for _ in range(1500):
        height, width = (int(v) for v in rng.integers(1, 16, 2))
        binary = rng.random((height, width)) < rng.random()
        boxes, sizes = label_boxes(binary, connectivity)
        expected_boxes, expected_sizes = reference_component_boxes(binary, connectivity)
        assert np.array_equal(boxes, expected_boxes)
        assert np.array_equal(sizes, expected_sizes)
    binary = rng.random((224, 224)) < 0.55  # near the percolation threshold: big tangles
    assert all(np.array_equal(a, b) for a, b in zip(
        component_boxes(binary, connectivity), reference_component_boxes(binary, connectivity),
        strict=True))


def test_box_rule_equals_reference_for_both_component_rules() -> None:
    rng = np.random.default_rng(3)
    for index in range(500):
        sal = _random_map(rng, index)
        threshold = float(rng.choice([0.0, 0.15, 0.2, 0.5, 1.0]))
        for connectivity in (4, 8):
            normalized = normalize_map(sal, "max")
            boxes, sizes = reference_component_boxes(normalized >= threshold, connectivity)
            largest = boxes[int(np.argmax(sizes))][None] if len(boxes) else boxes
            assert box_from_saliency(sal, threshold, components="all",
                                     connectivity=connectivity) == boxes.tolist()
            assert box_from_saliency(sal, threshold, connectivity=connectivity) == \
                largest.tolist()


def test_pixel_levels_count_thresholds_at_or_below() -> None:
    rng = np.random.default_rng(4)
    for thresholds in (threshold_grid(0.01), threshold_grid(0.001), np.sort(rng.random(37)),
                       np.array([0.5]), np.array([0.2, 0.2, 0.7])):
        values = np.concatenate([rng.random(2000), thresholds, [-1.0, 0.0, 1.0, 2.0]])
        expected = np.searchsorted(thresholds, values, side="right")
        assert np.array_equal(pixel_levels_of(values, thresholds), expected)


def test_max_box_acc_metric_matches_the_reference_records() -> None:
    rng = np.random.default_rng(6)
    metric = MaxBoxAcc()
    grid = threshold_grid(0.01)
    for index in range(40):
        sal = _random_map(rng, index) + rng.random() * 1e-3
        gt = _random_boxes(rng, *sal.shape)
        record = metric.update(MetricSample(f"i{index}", 0, torch.from_numpy(sal),
                                            torch.from_numpy(gt)))
        expected = reference_best_ious(sal, gt, grid)
        assert unpack(record["iou_all_per_threshold"]).tolist() == expected[0].tolist()
        assert unpack(record["iou_largest_per_threshold"]).tolist() == expected[1].tolist()


def test_workspace_is_per_thread() -> None:
    rng = np.random.default_rng(7)
    maps = [rng.random((int(s), int(s))) for s in rng.integers(5, 60, 40)]
    gt = np.array([[1.0, 1.0, 4.0, 4.0]])
    grid = threshold_grid(0.05)
    expected = [sweep_best_ious(normalize_map(m, "minmax"), gt, grid) for m in maps]
    results: dict[int, list] = {}

    def work(offset: int) -> None:
        results[offset] = [sweep_best_ious(normalize_map(m, "minmax"), gt, grid)
                           for m in maps[offset:] + maps[:offset]]

    threads = [threading.Thread(target=work, args=(k,)) for k in (0, 7)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    for offset, got in results.items():
        rotated = expected[offset:] + expected[:offset]
        assert all(np.array_equal(a[0], b[0]) and np.array_equal(a[1], b[1])
                   for a, b in zip(got, rotated, strict=True))


def test_bad_connectivity_is_refused() -> None:
    with pytest.raises(InputValidationError, match="connectivity must be 4 or 8"):
        best_ious_per_threshold(np.eye(3), [[0, 0, 1, 1]], threshold_grid(0.5), connectivity=6)
    with pytest.raises(InputValidationError, match="connectivity must be 4 or 8"):
        component_boxes(np.eye(3, dtype=bool), 2)
