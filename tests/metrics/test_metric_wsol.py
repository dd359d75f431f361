"""MaxBoxAcc v1/v2 and PxAP: hand cases, exact dataset-level accumulation, sklearn agreement."""

from __future__ import annotations

import numpy as np
import pytest

from xai_eval.metrics.functional import max_box_acc, pxap
from xai_eval.metrics.wsol import (
    pixel_histograms,
    pixel_levels,
    pxap_from_histograms,
    threshold_grid,
)


def _corner_map() -> np.ndarray:
    sal = np.zeros((4, 4))
    sal[0, 0] = 1.0
    return sal


def test_max_box_acc_is_a_dataset_level_maximum() -> None:
    # thresholds {0, 0.5}. Image 1 (gt = whole image) is right only at tau = 0 (whole-image
    # box); image 2 (gt = the corner pixel) only at tau = 0.5. BoxAcc is 1/2 at both
    # thresholds, so MaxBoxAcc = 0.5 — the mean of per-image maxima would say 1.0.
    maps = [_corner_map(), _corner_map()]
    gts = [[[0, 0, 4, 4]], [[0, 0, 1, 1]]]
    result = max_box_acc(maps, gts, threshold_step=0.5)
    assert result["max_box_acc_v2"] == pytest.approx(0.5)
    assert result["max_box_acc_v1"] == pytest.approx(0.5)
    assert result["max_box_acc_iou30"] == pytest.approx(0.5)


def test_v2_uses_all_components_v1_the_largest() -> None:
    # two components: a big one (3x3 at the top-left) and a small one (1 px at (7, 7)); the
    # ground truth is the small one. V1 (largest) misses it at every threshold, V2 finds it.
    sal = np.zeros((8, 8))
    sal[0:3, 0:3] = 1.0
    sal[7, 7] = 1.0
    result = max_box_acc([sal], [[[7, 7, 8, 8]]], threshold_step=0.25)
    assert result["max_box_acc_v1"] == 0.0
    assert result["max_box_acc_v2"] == pytest.approx(1.0)
    assert result["best_threshold_iou50"] == pytest.approx(0.25)  # tau = 0 gives the whole image


def test_v2_is_the_mean_over_iou_thresholds() -> None:
    # prediction [0,0,4,4] (16 px) vs gt [0,0,4,2] (8 px): IoU 0.5 -> correct at 0.3, 0.5; not 0.7
    sal = np.zeros((6, 6))
    sal[0:4, 0:4] = 1.0
    result = max_box_acc([sal], [[[0, 0, 4, 2]]], threshold_step=0.5)
    assert result["max_box_acc_iou30"] == 1.0
    assert result["max_box_acc_iou50"] == 1.0
    assert result["max_box_acc_iou70"] == 0.0
    assert result["max_box_acc_v2"] == pytest.approx(2 / 3)


def test_pxap_four_pixels_by_hand() -> None:
    # scores 0, 0.5 / 0.25, 1 with positives at 0.5 and 0.25. From high to low level:
    # 1.0: TP 0 FP 1; 0.5: TP 1 FP 1 (P 1/2, R 1/2); 0.25: TP 2 FP 1 (P 2/3, R 1)
    # AP = 1/2 * 1/2 + 2/3 * 1/2 = 7/12
    sal = np.array([[0.0, 0.5], [0.25, 1.0]])
    mask = np.array([[False, True], [True, False]])
    assert pxap([sal], [mask], threshold_step=0.25) == pytest.approx(7 / 12)


def test_pxap_matches_sklearn_on_quantised_scores() -> None:
    sklearn_metrics = pytest.importorskip("sklearn.metrics")
    rng = np.random.default_rng(0)
    maps = [rng.random((12, 9)) ** 2 for _ in range(3)]
    masks = [rng.random((12, 9)) < 0.3 for _ in range(3)]
    step = 0.05
    levels = pixel_levels(threshold_grid(step))
    scores, labels = [], []
    for sal, mask in zip(maps, masks, strict=True):
        normalized = (sal - sal.min()) / (sal.max() - sal.min())
        scores.append(levels[np.searchsorted(levels, normalized.ravel(), side="right") - 1])
        labels.append(mask.ravel())
    expected = sklearn_metrics.average_precision_score(np.concatenate(labels), np.concatenate(scores))
    assert pxap(maps, masks, threshold_step=step) == pytest.approx(expected, abs=1e-12)


def test_pxap_pooled_is_not_the_mean_of_image_aps() -> None:
    maps = [np.array([[0.0, 1.0]]), np.array([[0.0, 0.4], [1.0, 0.2]])]
    masks = [np.array([[False, True]]), np.array([[True, True], [False, False]])]
    per_image = [pxap([m], [k]) for m, k in zip(maps, masks, strict=True)]
    pooled = pxap(maps, masks)
    assert pooled is not None and abs(pooled - np.mean(per_image)) > 0.01


def test_pxap_edge_cases() -> None:
    levels = pixel_levels(threshold_grid(0.1))
    pos, neg = pixel_histograms(np.zeros((3, 3)), np.ones((3, 3)), levels)
    assert pos.sum() == 9 and neg.sum() == 0  # a constant map: all pixels at level 0
    assert pxap_from_histograms(pos, neg) == pytest.approx(1.0)  # only positives exist
    assert pxap_from_histograms(np.zeros(3, dtype=int), np.ones(3, dtype=int)) is None
