"""Mask IoU: binarise the map, compare with the class's segmentation mask; mIoU over classes.

No paper fixes the binarisation, so it is a parameter: the map is normalised
(``normalization="max"``, as for boxes) and pixels ``>= threshold`` (default 0.5) are
foreground. mIoU follows the segmentation convention: per class, total intersection over
total union across the dataset, then the mean over classes.

``ignore_mask`` (VOC's void label 255) removes pixels from both the intersection and the
union, as the VOC/mmsegmentation evaluation does: a predicted pixel on the void band is
neither a hit nor a false positive.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from xai_eval.errors import InputValidationError
from xai_eval.metrics import device
from xai_eval.metrics.shapes import as_mask, as_saliency, normalize_map


def mask_overlap(
    saliency: Any,
    gt_mask: Any,
    threshold: float = 0.5,
    *,
    normalization: str = "max",
    on_size_mismatch: str = "resize",
    ignore_mask: Any = None,
) -> tuple[int, int]:
    """(intersection, union) pixel counts of the binarised map and the mask.

    Pixels in ``ignore_mask`` count in neither (they win over the mask where both are set).
    """
    if not 0.0 <= threshold <= 1.0:
        raise InputValidationError(f"threshold must be in [0, 1], not {threshold}")
    mask = as_mask(gt_mask)
    keep = None if ignore_mask is None else ~as_mask(ignore_mask, mask.shape, "ignore_mask")
    if device.on_accelerator(saliency):
        sal_t = device.device_saliency(saliency, mask.shape, on_size_mismatch)
        return device.mask_overlap(
            sal_t, device.device_mask(mask, sal_t.device), threshold, normalization,
            None if keep is None else device.device_mask(keep, sal_t.device))
    sal = as_saliency(saliency, mask.shape, on_size_mismatch)
    predicted = normalize_map(sal, normalization) >= threshold
    inter, union = predicted & mask, predicted | mask
    if keep is not None:
        inter, union = inter & keep, union & keep
    return int(inter.sum()), int(union.sum())


def mask_iou(
    saliency: Any,
    gt_mask: Any,
    threshold: float = 0.5,
    *,
    normalization: str = "max",
    on_size_mismatch: str = "resize",
    ignore_mask: Any = None,
) -> float | None:
    """IoU of ``normalised map >= threshold`` with the mask, ``ignore_mask`` pixels left out.

    Returns None when both are empty (IoU undefined: exclude and count). A constant map is
    normalised to zeros, so at a threshold > 0 it predicts nothing and scores 0.0 against
    a non-empty mask.
    """
    inter, union = mask_overlap(saliency, gt_mask, threshold, normalization=normalization,
                                on_size_mismatch=on_size_mismatch, ignore_mask=ignore_mask)
    return None if union == 0 else inter / union


def mean_iou(intersections: Mapping[Any, float], unions: Mapping[Any, float]) -> float | None:
    """mIoU: per class sum(intersection) / sum(union), then the mean over classes.

    Classes whose union is zero are left out; None if no class is left.
    """
    per_class = [intersections[c] / unions[c] for c in unions if unions[c] > 0]
    return float(np.mean(per_class)) if per_class else None


__all__ = ["mask_iou", "mask_overlap", "mean_iou"]
