"""Mask IoU and mIoU on hand-computed cases."""

from __future__ import annotations

import numpy as np
import pytest

from xai_eval.errors import InputValidationError
from xai_eval.metrics.functional import mask_iou, mean_iou


def test_mask_iou_by_hand() -> None:
    sal = np.array([[1.0, 0.6], [0.2, 0.0]])  # >= 0.5 of the max: (0,0), (0,1)
    mask = np.array([[False, True], [True, False]])
    assert mask_iou(sal, mask, 0.5) == pytest.approx(1 / 3)
    assert mask_iou(sal, mask, 0.1) == pytest.approx(2 / 3)  # (0,0),(0,1),(1,0) vs 2 px
    assert mask_iou(sal * 10, mask, 0.5) == pytest.approx(1 / 3)


def test_constant_map_and_empty_cases() -> None:
    mask = np.array([[False, True], [True, False]])
    assert mask_iou(np.zeros((2, 2)), mask, 0.5) == 0.0  # predicts nothing
    assert mask_iou(np.zeros((2, 2)), np.zeros((2, 2)), 0.5) is None  # both empty: undefined
    with pytest.raises(InputValidationError, match="threshold"):
        mask_iou(np.zeros((2, 2)), mask, 1.5)


def test_mean_iou_pools_per_class_then_averages() -> None:
    # class a: (1 + 2) / (3 + 2) = 0.6; class b: 0 / 4 = 0; class c has no union: left out
    assert mean_iou({"a": 3, "b": 0, "c": 0}, {"a": 5, "b": 4, "c": 0}) == pytest.approx(0.3)
    assert mean_iou({}, {}) is None
