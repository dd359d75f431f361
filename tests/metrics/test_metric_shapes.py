"""Lenient input: every accepted mask/box/map shape gives the same result; bad input a clear error."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from xai_eval.errors import InputValidationError
from xai_eval.metrics.functional import mask_iou, pointing_hit
from xai_eval.metrics.shapes import (
    as_boxes,
    as_mask,
    as_saliency,
    boxes_to_mask,
    normalize_map,
)


def _mask() -> np.ndarray:
    mask = np.zeros((6, 8), dtype=bool)
    mask[1:3, 2:5] = True
    return mask


@pytest.mark.parametrize(
    "make",
    [
        lambda m: m,
        lambda m: m[None],
        lambda m: m[None, None],
        lambda m: m[..., None][None],
        lambda m: m[:, :, None],
        lambda m: torch.from_numpy(m).float(),
        lambda m: torch.from_numpy(m)[None, None].to(torch.uint8),
        lambda m: m.astype(int).tolist(),
    ],
    ids=["HW", "1HW", "N1HW", "NHW1", "HW1", "tensor", "uint8-N1HW", "list"],
)
def test_mask_shapes_are_equivalent(make) -> None:
    np.testing.assert_array_equal(as_mask(make(_mask())), _mask())


def test_instance_stack_is_unioned() -> None:
    a = np.zeros((2, 6, 8), dtype=bool)
    a[0, 0, 0] = True
    a[1, 5, 7] = True
    merged = as_mask(a)
    assert merged.sum() == 2 and merged[0, 0] and merged[5, 7]
    np.testing.assert_array_equal(as_mask(a[:, None]), merged)  # (N, 1, H, W)
    np.testing.assert_array_equal(as_mask(a[..., None]), merged)  # (N, H, W, 1)


def test_metric_results_equal_across_mask_shapes() -> None:
    sal = np.zeros((6, 8))
    sal[1, 3] = 1.0
    ref_hit = pointing_hit(sal, _mask(), tolerance=1)
    ref_iou = mask_iou(sal, _mask(), 0.5)
    for m in (_mask()[None], _mask()[None, None], _mask()[None, ..., None], torch.from_numpy(_mask())):
        assert pointing_hit(sal, m, tolerance=1) == ref_hit
        assert mask_iou(sal, m, 0.5) == ref_iou
    for s in (sal[None], sal[None, None], sal[..., None], torch.from_numpy(sal).float()):
        assert pointing_hit(s, _mask(), tolerance=1) == ref_hit


def test_boxes_xywh_equals_xyxy_and_lists_equal_tensors() -> None:
    xyxy = as_boxes([[1, 2, 4, 6], [0, 0, 1, 1]])
    np.testing.assert_array_equal(as_boxes(torch.tensor([[1, 2, 3, 4], [0, 0, 1, 1]]), "xywh"), xyxy)
    np.testing.assert_array_equal(as_boxes((1, 2, 4, 6)), xyxy[:1])
    assert as_boxes([]).shape == (0, 4)
    assert as_boxes(torch.zeros(0, 4)).shape == (0, 4)


def test_bad_boxes_are_refused_with_a_hint() -> None:
    with pytest.raises(InputValidationError, match="xywh"):
        as_boxes([[5, 5, 2, 2]])  # x2 < x1: probably COCO xywh
    with pytest.raises(InputValidationError, match="box_format"):
        as_boxes([[0, 0, 1, 1]], "cxcywh")
    with pytest.raises(InputValidationError, match=r"\(N, 4\)"):
        as_boxes([[0, 0, 1]])


def test_boxes_to_mask_uses_pixel_centres() -> None:
    # exclusive convention: [1, 2, 4, 6) covers columns 1..3 and rows 2..5
    mask = boxes_to_mask(as_boxes([[1, 2, 4, 6]]), (8, 8))
    assert mask.sum() == 3 * 4
    assert mask[2, 1] and mask[5, 3] and not mask[6, 3] and not mask[2, 4]
    # a box partly outside the image is clipped
    assert boxes_to_mask(as_boxes([[-3, -3, 1, 1]]), (4, 4)).sum() == 1


def test_nan_map_is_a_clear_error() -> None:
    sal = np.zeros((4, 4))
    sal[0, 0] = np.nan
    with pytest.raises(InputValidationError, match="NaN"):
        as_saliency(sal)
    with pytest.raises(InputValidationError, match="NaN"):
        pointing_hit(sal, _mask()[:4, :4])


def test_wrong_size_map_is_resized_or_refused() -> None:
    small = np.zeros((3, 4))
    small[0, 1] = 1.0
    resized = as_saliency(small, (6, 8), "resize")
    assert resized.shape == (6, 8)
    # bilinear, align_corners=False: the peak lands on the 2x2 block of pixels it came from
    assert set(map(tuple, np.argwhere(resized == resized.max()))) <= {(0, 2), (0, 3), (1, 2), (1, 3)}
    with pytest.raises(InputValidationError, match="on_size_mismatch='resize'"):
        as_saliency(small, (6, 8), "error")
    with pytest.raises(InputValidationError, match="size"):
        pointing_hit(small, _mask(), on_size_mismatch="error")


def test_map_of_several_images_is_refused() -> None:
    with pytest.raises(InputValidationError, match="one map"):
        as_saliency(np.zeros((2, 4, 4)))


def test_masks_are_never_resized_silently() -> None:
    with pytest.raises(InputValidationError, match="never resized"):
        as_mask(np.zeros((4, 4)), (5, 5))


def test_constant_maps_normalise_to_zeros() -> None:
    for value in (0.0, 3.0, -2.0):
        for how in ("max", "minmax"):
            out = normalize_map(np.full((3, 3), value), how)
            assert np.isfinite(out).all() and (out == 0).all()
    np.testing.assert_allclose(normalize_map(np.array([[1.0, 3.0]]), "minmax"), [[0.0, 1.0]])
    np.testing.assert_allclose(normalize_map(np.array([[1.0, 4.0]]), "max"), [[0.25, 1.0]])
