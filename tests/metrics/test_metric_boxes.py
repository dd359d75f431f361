"""Box extraction, IoU and the CAM/Grad-CAM localization error on hand-computed cases."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from xai_eval.errors import InputValidationError
from xai_eval.metrics.functional import box_from_saliency, box_iou, localization_correct


def _two_component_map() -> np.ndarray:
    """A: rows 1-2, cols 1-3 (6 px, value 1.0); B: rows 6-8, cols 5-8 (12 px, value 0.5)."""
    sal = np.zeros((10, 10))
    sal[1:3, 1:4] = 1.0
    sal[6:9, 5:9] = 0.5
    return sal


def test_box_iou_by_hand() -> None:
    # [0,0,2,2] and [1,1,3,3]: intersection 1, union 4 + 4 - 1 = 7
    assert box_iou([[0, 0, 2, 2]], [[1, 1, 3, 3]])[0, 0] == pytest.approx(1 / 7)
    # inclusive pixel indices: 3x3 boxes overlapping in 2x2 -> 4 / (9 + 9 - 4)
    assert box_iou([[0, 0, 2, 2]], [[1, 1, 3, 3]], inclusive=True)[0, 0] == pytest.approx(2 / 7)
    # xywh input
    assert box_iou([[0, 0, 2, 2]], [[1, 1, 2, 2]], box_format="xywh")[0, 0] == pytest.approx(1 / 7)


def test_box_iou_is_pairwise_and_never_nan() -> None:
    a = torch.tensor([[0.0, 0.0, 4.0, 4.0], [0.0, 0.0, 2.0, 2.0]])
    b = [[0, 0, 4, 4], [4, 4, 8, 8], [1, 1, 1, 1]]
    iou = box_iou(a, b)
    assert iou.shape == (2, 3)
    np.testing.assert_allclose(iou, [[1.0, 0.0, 0.0], [0.25, 0.0, 0.0]])
    assert np.isfinite(box_iou([[1, 1, 1, 1]], [[1, 1, 1, 1]])).all()


def test_largest_component_box_by_hand() -> None:
    sal = _two_component_map()
    # threshold 0.15 of the max keeps both; B (12 px) is the largest: columns 5..8, rows 6..8
    assert box_from_saliency(sal, 0.15) == [[5.0, 6.0, 9.0, 9.0]]
    # threshold 0.6 keeps only A
    assert box_from_saliency(sal, 0.6) == [[1.0, 1.0, 4.0, 3.0]]
    # all components, in raster order of their first pixel
    assert box_from_saliency(sal, 0.15, components="all") == [[1.0, 1.0, 4.0, 3.0],
                                                               [5.0, 6.0, 9.0, 9.0]]


def test_threshold_is_relative_to_the_max_and_inclusive() -> None:
    sal = _two_component_map() * 7.0  # scale does not matter with max-normalisation
    assert box_from_saliency(sal, 0.5, components="all") == [[1.0, 1.0, 4.0, 3.0],
                                                             [5.0, 6.0, 9.0, 9.0]]  # 0.5 >= 0.5
    assert box_from_saliency(sal, 0.51) == [[1.0, 1.0, 4.0, 3.0]]


def test_minmax_normalisation_changes_what_passes() -> None:
    sal = _two_component_map() + 1.0  # background 1, B 1.5, A 2
    # max-normalised: background is 0.5 of the max, so everything passes at 0.4
    assert box_from_saliency(sal, 0.4) == [[0.0, 0.0, 10.0, 10.0]]
    # min-max: background 0, B 0.5, A 1
    assert box_from_saliency(sal, 0.4, normalization="minmax") == [[5.0, 6.0, 9.0, 9.0]]


def test_eight_versus_four_connectivity() -> None:
    sal = np.zeros((5, 5))
    sal[0, 0] = sal[1, 1] = sal[2, 2] = 1.0
    assert box_from_saliency(sal, 0.5) == [[0.0, 0.0, 3.0, 3.0]]  # one diagonal component
    four = box_from_saliency(sal, 0.5, components="all", connectivity=4)
    assert four == [[0.0, 0.0, 1.0, 1.0], [1.0, 1.0, 2.0, 2.0], [2.0, 2.0, 3.0, 3.0]]
    # equal sizes under 4-connectivity: the first in raster order is "largest"
    assert box_from_saliency(sal, 0.5, connectivity=4) == [[0.0, 0.0, 1.0, 1.0]]


def test_constant_map_gives_no_box_and_bad_threshold_is_refused() -> None:
    assert box_from_saliency(np.zeros((4, 4)), 0.2) == []
    assert box_from_saliency(np.full((4, 4), 3.0), 0.2) == []
    with pytest.raises(InputValidationError, match="threshold"):
        box_from_saliency(np.ones((4, 4)), 20)


def test_localization_top1_top5_gt_known_by_hand() -> None:
    good = _two_component_map()  # largest component box [5, 6, 9, 9]
    bad = np.zeros((10, 10))
    bad[0:2, 0:2] = 1.0  # box [0, 0, 2, 2]: IoU 0 with the ground truth
    gt_boxes = [[5, 6, 9, 9]]
    topk_maps = np.stack([bad, good, bad, bad, bad])
    # true class 7 is the second prediction and its map is right: top-1 wrong, top-5 right
    result = localization_correct(7, gt_boxes, good, [3, 7, 1, 2, 4], topk_maps)
    assert result == {"top1": False, "top5": True, "gt_known": True}
    # true class first but its map misses: top-1 and top-5 wrong; GT-known uses the given map
    result = localization_correct(3, gt_boxes, bad, [3, 7, 1, 2, 4], topk_maps)
    assert result == {"top1": False, "top5": False, "gt_known": False}
    # true class first with the right map
    result = localization_correct(3, gt_boxes, good, [3, 7, 1, 2, 4], np.stack([good] + [bad] * 4))
    assert result == {"top1": True, "top5": True, "gt_known": True}
    # true class not among the top 5
    result = localization_correct(9, gt_boxes, good, [3, 7, 1, 2, 4], topk_maps)
    assert result == {"top1": False, "top5": False, "gt_known": True}


def test_the_true_class_map_seen_twice_is_labelled_once(monkeypatch) -> None:
    """When the top-k map of the true class equals its GT-known map, one box serves both;
    a map that differs (even by one pixel) is judged on its own."""
    from xai_eval.metrics import localization

    good = _two_component_map()
    bad = np.zeros((10, 10))
    bad[0:2, 0:2] = 1.0
    calls = []
    real = localization.box_is_correct
    monkeypatch.setattr(localization, "box_is_correct",
                        lambda m, *a, **k: calls.append(m) or real(m, *a, **k))
    topk_maps = np.stack([bad, good.copy(), bad, bad, bad])
    result = localization_correct(7, [[5, 6, 9, 9]], good, [3, 7, 1, 2, 4], topk_maps)
    assert result == {"top1": False, "top5": True, "gt_known": True} and len(calls) == 1
    nudged = good.copy()
    nudged[0, 9] = 0.5  # a second, smaller component: same box, but not the same map
    calls.clear()
    result = localization_correct(7, [[5, 6, 9, 9]], bad, [3, 7, 1, 2, 4],
                                  np.stack([bad, nudged, bad, bad, bad]))
    assert result == {"top1": False, "top5": True, "gt_known": False} and len(calls) == 2


def test_iou_threshold_boundary() -> None:
    # predicted [5, 6, 9, 9] (12 px) vs ground truth [5, 6, 9, 12] (24 px): IoU exactly 0.5
    good = _two_component_map()
    assert localization_correct(0, [[5, 6, 9, 12]], good)["gt_known"] is True
    assert localization_correct(0, [[5, 6, 9, 13]], good)["gt_known"] is False


def test_localization_needs_a_ground_truth_box() -> None:
    with pytest.raises(InputValidationError, match="no ground-truth box"):
        localization_correct(0, [], np.ones((4, 4)))
