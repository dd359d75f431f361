"""Randomised agreement with independent brute-force oracles (written here from the papers'
definitions, using other libraries for the building blocks)."""

from __future__ import annotations

import numpy as np
import pytest
from skimage.measure import label, regionprops

from xai_eval.metrics.functional import box_from_saliency, max_box_acc, pointing_hit


def _torchray_rule(sal: np.ndarray, mask: np.ndarray, tolerance: float) -> bool:
    """TorchRay's test written out: acceptance disc around the first argmax, any overlap."""
    row, col = np.unravel_index(int(np.argmax(sal)), sal.shape)
    v = (np.arange(sal.shape[0]) - row)[:, None] ** 2
    u = (np.arange(sal.shape[1]) - col)[None, :] ** 2
    return bool((mask & ((v + u) < tolerance**2)).any())


@pytest.mark.parametrize("seed", range(5))
def test_pointing_matches_torchray_rule_on_random_cases(seed: int) -> None:
    rng = np.random.default_rng(seed)
    for _ in range(40):
        sal = rng.random((30, 40))
        mask = np.zeros((30, 40), dtype=bool)
        y, x = rng.integers(0, 30), rng.integers(0, 40)
        mask[y:y + rng.integers(1, 6), x:x + rng.integers(1, 6)] = True
        tol = float(rng.integers(1, 20))
        assert pointing_hit(sal, mask, tol, tie="first") == _torchray_rule(sal, mask, tol)


@pytest.mark.parametrize("seed", range(3))
def test_tie_rules_match_brute_force_over_plateaus(seed: int) -> None:
    rng = np.random.default_rng(seed)
    for _ in range(30):
        sal = rng.integers(0, 3, size=(25, 25)).astype(float)  # big tied plateaus (> 8 ties)
        mask = rng.random((25, 25)) < 0.02
        if not mask.any():
            continue
        tol = float(rng.integers(1, 8))
        ties = np.argwhere(sal == sal.max())
        rr, cc = np.nonzero(mask)
        hits = [bool((((rr - r) ** 2 + (cc - c) ** 2) < tol**2).any()) for r, c in ties]
        assert pointing_hit(sal, mask, tol, tie="reject") == all(hits)
        assert pointing_hit(sal, mask, tol, tie="any") == any(hits)


def _skimage_boxes(binary: np.ndarray) -> list[tuple[list[float], int]]:
    regions = regionprops(label(binary, connectivity=2))
    return [([float(r.bbox[1]), float(r.bbox[0]), float(r.bbox[3]), float(r.bbox[2])], r.area)
            for r in regions]


@pytest.mark.parametrize("seed", range(3))
def test_component_boxes_match_skimage(seed: int) -> None:
    rng = np.random.default_rng(seed)
    sal = rng.random((20, 24)) ** 3
    for threshold in (0.2, 0.5, 0.8):
        expected = _skimage_boxes(sal / sal.max() >= threshold)
        got = box_from_saliency(sal, threshold, components="all")
        assert sorted(got) == sorted(box for box, _ in expected)
        largest = max(area for _, area in expected)
        assert box_from_saliency(sal, threshold)[0] in [b for b, a in expected if a == largest]


def _iou(a: list[float], b: list[float]) -> float:
    iw = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    ih = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = iw * ih
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / union if union > 0 else 0.0


def test_max_box_acc_matches_a_brute_force_sweep() -> None:
    rng = np.random.default_rng(7)
    maps, gts = [], []
    for _ in range(6):
        sal = rng.random((6, 6)) ** 2
        sal = np.kron(sal, np.ones((3, 3)))  # blocky 18x18 maps: several components
        maps.append(sal)
        x, y = rng.integers(0, 12, size=2)
        gts.append([[float(x), float(y), float(x + rng.integers(3, 7)), float(y + rng.integers(3, 7))]])
    step = 0.1
    taus = np.arange(0, 1, step)
    deltas = (0.3, 0.5, 0.7)
    correct_all = np.zeros((3, len(taus)))
    correct_largest = np.zeros(len(taus))
    for sal, gt in zip(maps, gts, strict=True):
        norm = (sal - sal.min()) / (sal.max() - sal.min())
        for t, tau in enumerate(taus):
            comps = _skimage_boxes(norm >= tau)
            best = max(_iou(box, gt[0]) for box, _ in comps)
            largest_box = max(comps, key=lambda c: c[1])[0]
            for d, delta in enumerate(deltas):
                correct_all[d, t] += best >= delta
            correct_largest[t] += _iou(largest_box, gt[0]) >= 0.5
    expected_v2 = np.mean((correct_all / len(maps)).max(axis=1))
    expected_v1 = (correct_largest / len(maps)).max()
    result = max_box_acc(maps, gts, threshold_step=step)
    assert result["max_box_acc_v2"] == pytest.approx(expected_v2)
    assert result["max_box_acc_v1"] == pytest.approx(expected_v1)
