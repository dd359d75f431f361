"""Pointing game and energy pointing game on hand-computed cases (TorchRay's semantics)."""

from __future__ import annotations

import numpy as np
import pytest

from xai_eval.errors import InputValidationError
from xai_eval.metrics.functional import energy_in_region, pointing_hit


def _point_map(size: tuple[int, int], row: int, col: int) -> np.ndarray:
    sal = np.zeros(size)
    sal[row, col] = 1.0
    return sal


def _pixel_mask(size: tuple[int, int], row: int, col: int) -> np.ndarray:
    mask = np.zeros(size, dtype=bool)
    mask[row, col] = True
    return mask


def test_hand_computed_distance_on_a_10x10_map() -> None:
    # max at (2, 3), object pixel at (7, 7): distance^2 = 5^2 + 4^2 = 41
    sal = _point_map((10, 10), 2, 3)
    mask = _pixel_mask((10, 10), 7, 7)
    assert pointing_hit(sal, mask, tolerance=6) is False  # 36 < 41
    assert pointing_hit(sal, mask, tolerance=7) is True  # 41 < 49
    assert pointing_hit(sal, mask, tolerance=0) is False
    assert pointing_hit(_point_map((10, 10), 7, 7), mask, tolerance=1) is True  # on the object


@pytest.mark.parametrize(
    ("row", "col", "hit"),
    [(5, 20, False), (5, 19, True), (14, 17, False), (14, 16, True)],
    ids=["axis-15", "axis-14", "diag-9-12", "diag-9-11"],
)
def test_tolerance_edge_is_strict(row: int, col: int, hit: bool) -> None:
    # distance exactly 15 (15^2, or 9^2 + 12^2 = 225) is a miss: TorchRay tests d^2 < 15^2
    sal = _point_map((40, 40), 5, 5)
    assert pointing_hit(sal, _pixel_mask((40, 40), row, col), tolerance=15) is hit


def test_default_tolerance_is_15_pixels() -> None:
    sal = _point_map((40, 40), 5, 5)
    assert pointing_hit(sal, _pixel_mask((40, 40), 5, 19)) is True
    assert pointing_hit(sal, _pixel_mask((40, 40), 5, 20)) is False


def test_constant_and_zero_maps_are_never_a_hit() -> None:
    full = np.ones((10, 10), dtype=bool)
    for tie in ("reject", "first", "any"):
        assert pointing_hit(np.zeros((10, 10)), full, tie=tie) is False
        assert pointing_hit(np.full((10, 10), 0.3), full, tie=tie) is False


def test_empty_mask_returns_none() -> None:
    assert pointing_hit(_point_map((10, 10), 1, 1), np.zeros((10, 10), dtype=bool)) is None
    assert pointing_hit(_point_map((10, 10), 1, 1), gt_boxes=[]) is None
    assert energy_in_region(_point_map((10, 10), 1, 1), np.zeros((10, 10))) is None


def test_tie_rules() -> None:
    # two equal peaks: (0, 0) on the object, (9, 9) far from it
    sal = np.zeros((10, 10))
    sal[0, 0] = sal[9, 9] = 1.0
    mask = _pixel_mask((10, 10), 0, 1)
    assert pointing_hit(sal, mask, tolerance=2, tie="reject") is False  # not all ties hit
    assert pointing_hit(sal, mask, tolerance=2, tie="first") is True  # (0, 0) first in raster order
    assert pointing_hit(sal, mask, tolerance=2, tie="any") is True
    far_first = _pixel_mask((10, 10), 9, 8)
    assert pointing_hit(sal, far_first, tolerance=2, tie="first") is False
    with pytest.raises(InputValidationError, match="tie"):
        pointing_hit(sal, mask, tie="random")


def test_many_tied_maxima_use_the_distance_transform_consistently() -> None:
    # a plateau of 12 tied maxima (> 8 switches to the exact distance transform path)
    sal = np.zeros((30, 30))
    sal[10:13, 10:14] = 1.0
    mask = _pixel_mask((30, 30), 12, 20)  # nearest tie (12, 13) at distance 7, farthest (10, 10) at sqrt(104)
    assert pointing_hit(sal, mask, tolerance=8, tie="any") is True
    assert pointing_hit(sal, mask, tolerance=8, tie="reject") is False
    assert pointing_hit(sal, mask, tolerance=11, tie="reject") is True  # 104 < 121


def test_box_list_instead_of_mask() -> None:
    sal = _point_map((20, 20), 10, 10)
    # box covering columns 14..15, rows 9..11 (exclusive xyxy [14, 9, 16, 12]): nearest pixel 4 away
    assert pointing_hit(sal, gt_boxes=[[14, 9, 16, 12]], tolerance=4) is False
    assert pointing_hit(sal, gt_boxes=[[14, 9, 16, 12]], tolerance=5) is True
    assert pointing_hit(sal, [[14, 9, 16, 12]], tolerance=5) is True  # a box list in gt_mask's place
    assert pointing_hit(sal, gt_boxes=[[14, 9, 2, 3]], box_format="xywh", tolerance=5) is True


def test_energy_share_inside_the_region_by_hand() -> None:
    sal = np.array([[1.0, 2.0], [3.0, 4.0]])
    mask = np.array([[True, False], [False, True]])
    assert energy_in_region(sal, mask) == pytest.approx(5 / 10)
    assert energy_in_region(sal, gt_boxes=[[0, 0, 1, 2]]) == pytest.approx(4 / 10)  # left column
    assert energy_in_region(np.zeros((2, 2)), mask) == 0.0  # no mass: defined, not NaN
    assert energy_in_region(np.array([[-5.0, 1.0], [0.0, 1.0]]), mask) == pytest.approx(0.5)
