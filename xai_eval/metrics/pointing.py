"""Pointing game (Zhang et al., ECCV 2016, as TorchRay runs it) and its energy variant.

The point is the map's maximum; it *hits* when a ground-truth pixel lies at squared
distance ``< tolerance**2`` from it (strict, TorchRay's rule: a pixel exactly ``tolerance``
away is a miss), with distances measured between integer pixel indices.

Two choices TorchRay and Quantus leave implicit are explicit here:

- **Degenerate maps.** A constant map (all-zero included) points nowhere, so it is never a
  hit — whatever the mask. (Quantus counts it as a hit when any tied maximum touches the
  mask, which rewards a blank explanation.)
- **Ties** (``tie``), when the maximum is attained at several pixels:

  - ``"reject"`` (default): ambiguity is not rewarded — the map hits only if *every* tied
    maximum hits. Bilinear upsampling makes 2x2 plateaus at the peak common; they are
    adjacent, so this rarely differs from the other rules, but two distant equal peaks
    must both be right.
  - ``"first"``: the first maximum in raster (row-major) order is the point, as
    ``argmax`` in TorchRay's examples picks it.
  - ``"any"``: a hit if any tied maximum hits (Quantus' rule, minus the constant-map case).

  *Which pixels tie* (``tie_tolerance``, default ``1e-6``): every pixel within
  ``tie_tolerance * max(|max|, |min|)`` of the maximum. A bilinearly upsampled float32
  plateau is one value in exact arithmetic but comes out of the interpolation a few ulps
  apart (float32's ulp is 1.2e-7 relative), so with exact equality float noise picked one
  pixel of the plateau. 1e-6 is ~8 float32 ulps: wide enough for that noise, far below
  any difference an explainer means (a map quantised to 8 bits steps by 4e-3).
  ``tie_tolerance=0`` is exact equality (the former rule, and TorchRay's ``argmax``).

An empty ground-truth region returns ``None``: the pair is excluded and counted by the
accumulating metric, never turned into a NaN.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from scipy import ndimage

from xai_eval.errors import InputValidationError
from xai_eval.metrics import device
from xai_eval.metrics.shapes import (
    as_boxes,
    as_mask,
    as_saliency,
    boxes_to_mask,
    gt_region,
    is_constant,
)

TIE_RULES = ("reject", "first", "any")


def _region_and_map(
    saliency: Any, gt_mask: Any, gt_boxes: Any, box_format: str, on_size_mismatch: str
) -> tuple[np.ndarray, np.ndarray]:
    """Shared argument handling: a mask *or* boxes (a box list in ``gt_mask`` is accepted)."""
    if gt_mask is not None and gt_boxes is not None:
        raise InputValidationError("give gt_mask or gt_boxes, not both")
    if gt_mask is not None and _looks_like_boxes(gt_mask):
        gt_boxes, gt_mask = gt_mask, None
    if gt_mask is not None:
        mask = as_mask(gt_mask)
        sal = as_saliency(saliency, mask.shape, on_size_mismatch)
        return sal, mask
    sal = as_saliency(saliency)
    return sal, gt_region(sal.shape, gt_boxes=gt_boxes, box_format=box_format)


def _device_region_and_map(
    saliency: Any, gt_mask: Any, gt_boxes: Any, box_format: str, on_size_mismatch: str
) -> tuple[Any, Any]:
    """:func:`_region_and_map` for a map on an accelerator: both come back on its device."""
    if gt_mask is not None and gt_boxes is not None:
        raise InputValidationError("give gt_mask or gt_boxes, not both")
    if gt_mask is not None and _looks_like_boxes(gt_mask):
        gt_boxes, gt_mask = gt_mask, None
    if gt_mask is not None:
        mask = device.device_mask(gt_mask, saliency.device)
        return device.device_saliency(saliency, tuple(mask.shape), on_size_mismatch), mask
    sal = device.device_saliency(saliency)
    region = gt_region(tuple(sal.shape), gt_boxes=gt_boxes, box_format=box_format)
    return sal, device.device_mask(region, sal.device)


def _looks_like_boxes(value: Any) -> bool:
    """A ``(4,)`` or ``(N, 4)`` array-like given as ``gt_mask`` is a box list.

    (A genuine mask exactly 4 pixels wide can still be passed as ``(1, H, 4)``.)
    """
    shape = np.shape(value) if not hasattr(value, "shape") else tuple(value.shape)
    if isinstance(value, list | tuple) and len(value) == 0:
        return True  # an empty box list
    return len(shape) in (1, 2) and shape[-1] == 4


DEFAULT_TIE_TOLERANCE = 1e-6


def max_points(saliency: np.ndarray, tie_tolerance: float = 0.0) -> np.ndarray:
    """(K, 2) integer (row, col) positions of the map's maximum, in raster order.

    Pixels within ``tie_tolerance * max(|max|, |min|)`` of the maximum count as tied.
    """
    hi = saliency.max()
    if tie_tolerance <= 0:
        return np.argwhere(saliency == hi)
    scale = max(abs(float(hi)), abs(float(saliency.min())))
    return np.argwhere(saliency >= hi - tie_tolerance * scale)


def points_hit(points: np.ndarray, mask: np.ndarray, tolerance: float) -> np.ndarray:
    """For each (row, col) point: is a mask pixel at squared distance < tolerance**2?"""
    if len(points) <= 8:
        radius = int(np.ceil(tolerance))
        hits = np.zeros(len(points), dtype=bool)
        height, width = mask.shape
        for index, (row, col) in enumerate(points):
            r0, r1 = max(row - radius, 0), min(row + radius + 1, height)
            c0, c1 = max(col - radius, 0), min(col + radius + 1, width)
            window = mask[r0:r1, c0:c1]
            if not window.any():
                continue
            dr = (np.arange(r0, r1) - row)[:, None] ** 2
            dc = (np.arange(c0, c1) - col)[None, :] ** 2
            hits[index] = bool((window & ((dr + dc) < tolerance**2)).any())
        return hits
    # many tied maxima: one exact Euclidean distance transform serves them all
    dist = ndimage.distance_transform_edt(~mask)
    return dist[points[:, 0], points[:, 1]] ** 2 < tolerance**2


def pointing_hit(
    saliency: Any,
    gt_mask: Any = None,
    tolerance: float = 15,
    tie: str = "reject",
    *,
    gt_boxes: Any = None,
    box_format: str = "xyxy",
    on_size_mismatch: str = "resize",
    tie_tolerance: float = DEFAULT_TIE_TOLERANCE,
) -> bool | None:
    """Does the map's maximum fall within ``tolerance`` pixels of the object?

    Args:
        saliency: one map (see :mod:`xai_eval.metrics.shapes` for accepted shapes).
        gt_mask: the class's mask, (H, W) or an instance stack; a ``(N, 4)`` box list passed
            here is treated as ``gt_boxes``.
        tolerance: in pixels; hit when distance² < tolerance² (TorchRay default 15).
        tie: tie rule, ``"reject"`` / ``"first"`` / ``"any"`` (module docstring).
        gt_boxes: boxes instead of a mask; the region is their union.
        box_format: ``"xyxy"`` or COCO ``"xywh"``.
        on_size_mismatch: ``"resize"`` the map to the mask's size, or ``"error"``.
        tie_tolerance: relative tolerance deciding which pixels tie with the maximum
            (module docstring); 0 is exact equality.

    Returns:
        True/False, or None when the ground-truth region is empty (exclude and count it).
    """
    if tie not in TIE_RULES:
        raise InputValidationError(f"tie must be one of {TIE_RULES}, not {tie!r}")
    if tolerance < 0:
        raise InputValidationError(f"tolerance must be >= 0 pixels, not {tolerance}")
    if not 0 <= tie_tolerance < 1:
        raise InputValidationError(f"tie_tolerance must be in [0, 1), not {tie_tolerance}")
    if device.on_accelerator(saliency):
        sal_t, mask_t = _device_region_and_map(saliency, gt_mask, gt_boxes, box_format,
                                               on_size_mismatch)
        return device.pointing_hit(sal_t, mask_t, tolerance, tie, tie_tolerance)
    sal, mask = _region_and_map(saliency, gt_mask, gt_boxes, box_format, on_size_mismatch)
    if not mask.any():
        return None
    if is_constant(sal):
        return False
    points = max_points(sal, tie_tolerance)
    if tie == "first":
        points = points[:1]
    hits = points_hit(points, mask, tolerance)
    return bool(hits.any()) if tie == "any" else bool(hits.all())


def energy_in_region(
    saliency: Any,
    gt_mask: Any = None,
    *,
    gt_boxes: Any = None,
    box_format: str = "xyxy",
    on_size_mismatch: str = "resize",
    ignore_mask: Any = None,
) -> float | None:
    """Energy-based pointing game (Score-CAM, Wang et al. 2020): share of the map's mass
    inside the ground-truth region, ``sum(S * region) / sum(S)``.

    Negative values are clipped to 0 first (Score-CAM's maps are rectified). An all-zero
    map has no mass anywhere and scores 0.0 (defined, never NaN); an empty region returns
    None (exclude and count). ``ignore_mask`` pixels (VOC's void band) are left out of
    both the region and the total.
    """
    if device.on_accelerator(saliency):
        sal_t, mask_t = _device_region_and_map(saliency, gt_mask, gt_boxes, box_format,
                                               on_size_mismatch)
        keep_t = None if ignore_mask is None else ~device.device_mask(
            ignore_mask, sal_t.device, tuple(mask_t.shape))
        return device.energy_in_region(sal_t, mask_t, keep_t)
    sal, mask = _region_and_map(saliency, gt_mask, gt_boxes, box_format, on_size_mismatch)
    sal = np.clip(sal, 0.0, None)
    if ignore_mask is not None:
        keep = ~as_mask(ignore_mask, mask.shape, "ignore_mask")
        mask, sal = mask & keep, np.where(keep, sal, 0.0)
    if not mask.any():
        return None
    total = float(sal.sum())
    if total <= 0.0:
        return 0.0
    return float(sal[mask].sum() / total)


__all__ = [
    "DEFAULT_TIE_TOLERANCE",
    "TIE_RULES",
    "as_boxes",
    "boxes_to_mask",
    "energy_in_region",
    "max_points",
    "pointing_hit",
    "points_hit",
]
