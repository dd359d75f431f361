"""Boxes from saliency maps and box overlap: the CAM / Grad-CAM localization protocol.

The papers' recipe (CAM §3, Grad-CAM §4.1): normalise the map to [0, 1], keep the pixels
``>= threshold`` (CAM 0.20, Grad-CAM 0.15 — a fraction of the maximum, since the map is
max-normalised), and take the bounding box of the largest connected component.
Connected components use **8-connectivity** (diagonal neighbours join a component, as
OpenCV's contour tracing in wsolevaluation does); ``connectivity=4`` is available.

Box coordinates follow the exclusive convention of :mod:`xai_eval.metrics.shapes`: a
component spanning columns ``a..b`` gets ``x1 = a, x2 = b + 1``. :func:`box_iou` uses the
same convention by default; ``inclusive=True`` adds one pixel to widths and heights, which
is the rule of integer-pixel VOC/ILSVRC boxes and of wsolevaluation's IoU.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from xai_eval.errors import InputValidationError
from xai_eval.metrics import device
from xai_eval.metrics.components import label_boxes
from xai_eval.metrics.shapes import as_boxes, as_saliency, normalize_map

COMPONENT_RULES = ("largest", "all")


def box_iou(a: Any, b: Any, *, box_format: str = "xyxy", inclusive: bool = False,
            a_exclusive: bool = False) -> np.ndarray:
    """Pairwise IoU of boxes ``a`` (N, 4) and ``b`` (M, 4): an (N, M) float64 array.

    ``inclusive=False`` (default): width = x2 - x1 (continuous / exclusive coordinates).
    ``inclusive=True``: width = x2 - x1 + 1 (integer pixel indices, VOC/wsolevaluation),
    applied to *both* sides as given. A box from :func:`box_from_saliency` is exclusive
    (a 10x10 block at the origin is ``(0, 0, 10, 10)``); against its own inclusive box
    ``(0, 0, 9, 9)`` the +1 rule would give 100/121 = 0.826. ``a_exclusive=True`` converts
    ``a`` to inclusive indices first (``x2 - 1, y2 - 1``), so that pair scores 1.0.
    Boxes with zero area have IoU 0 with everything (never NaN).
    """
    first = as_boxes(a, box_format, "boxes a")
    if inclusive and a_exclusive:
        first = first - np.array([0.0, 0.0, 1.0, 1.0])
    return _pairwise_iou(first, as_boxes(b, box_format, "boxes b"), inclusive)


def _pairwise_iou(a: np.ndarray, b: np.ndarray, inclusive: bool = False) -> np.ndarray:
    """IoU of validated (N, 4) and (M, 4) xyxy float arrays (no input checks: inner loops)."""
    extra = 1.0 if inclusive else 0.0
    x1 = np.maximum(a[:, None, 0], b[None, :, 0])
    y1 = np.maximum(a[:, None, 1], b[None, :, 1])
    x2 = np.minimum(a[:, None, 2], b[None, :, 2])
    y2 = np.minimum(a[:, None, 3], b[None, :, 3])
    inter = np.clip(x2 - x1 + extra, 0, None) * np.clip(y2 - y1 + extra, 0, None)
    area_a = (a[:, 2] - a[:, 0] + extra) * (a[:, 3] - a[:, 1] + extra)
    area_b = (b[:, 2] - b[:, 0] + extra) * (b[:, 3] - b[:, 1] + extra)
    union = area_a[:, None] + area_b[None, :] - inter
    with np.errstate(invalid="ignore", divide="ignore"):
        iou = np.where(union > 0, inter / np.where(union > 0, union, 1.0), 0.0)
    return iou


def component_boxes(binary: np.ndarray, connectivity: int = 8) -> tuple[np.ndarray, np.ndarray]:
    """Boxes (K, 4, xyxy exclusive) and pixel counts (K,) of a binary mask's components.

    Components come in raster order of their first pixel (``scipy.ndimage.label``'s
    order); one union-find pass (:func:`xai_eval.metrics.components.label_boxes`).
    """
    return label_boxes(binary, connectivity)


def boxes_at_threshold(
    normalized: np.ndarray, threshold: float, components: str = "largest", connectivity: int = 8
) -> np.ndarray:
    """Boxes of the components of ``normalized >= threshold`` (already in [0, 1])."""
    return boxes_of_foreground(normalized >= threshold, components, connectivity)


def boxes_of_foreground(foreground: np.ndarray, components: str = "largest",
                        connectivity: int = 8) -> np.ndarray:
    """Boxes of a binary foreground's components: all, or the largest (ties: the first in
    raster order)."""
    if components not in COMPONENT_RULES:
        raise InputValidationError(
            f"components must be one of {COMPONENT_RULES}, not {components!r}"
        )
    boxes, sizes = component_boxes(foreground, connectivity)
    if components == "largest" and len(boxes):
        return boxes[int(np.argmax(sizes))][None]
    return boxes


def box_from_saliency(
    saliency: Any,
    threshold: float = 0.15,
    normalization: str = "max",
    components: str = "largest",
    connectivity: int = 8,
) -> list[list[float]]:
    """Bounding boxes of the map's high-saliency region (the papers' box rule).

    Args:
        saliency: one map (lenient shapes).
        threshold: fraction in [0, 1] of the normalised map; Grad-CAM 0.15 (default),
            CAM 0.20.
        normalization: ``"max"`` (papers: threshold relative to the max) or ``"minmax"``
            (wsolevaluation).
        components: ``"largest"`` (papers; one box) or ``"all"`` (one box per component).
        connectivity: 8 (default) or 4.

    Returns:
        xyxy boxes (exclusive convention) as lists of floats; ``[]`` when no pixel passes,
        e.g. for a constant map (normalised to zeros) at a threshold > 0.
    """
    if not 0.0 <= threshold <= 1.0:
        raise InputValidationError(f"threshold must be in [0, 1], not {threshold}")
    if device.on_accelerator(saliency):  # threshold on the device, label the bits here
        normalized_t = device.normalize_map(device.device_saliency(saliency), normalization)
        foreground = (normalized_t >= threshold).cpu().numpy()
        return boxes_of_foreground(foreground, components, connectivity).tolist()
    normalized = normalize_map(as_saliency(saliency), normalization)
    return boxes_at_threshold(normalized, threshold, components, connectivity).tolist()


def box_correct(
    boxes: Any, gt_boxes: Any, iou_threshold: float = 0.5, *, box_format: str = "xyxy",
    inclusive: bool = False,
) -> bool:
    """True when some predicted box has IoU >= ``iou_threshold`` with some ground-truth box."""
    pred = as_boxes(boxes, "xyxy", "predicted boxes")
    gt = as_boxes(gt_boxes, box_format)
    if len(pred) == 0 or len(gt) == 0:
        return False
    return bool(box_iou(pred, gt, inclusive=inclusive).max() >= iou_threshold)


__all__ = [
    "COMPONENT_RULES",
    "box_correct",
    "box_from_saliency",
    "box_iou",
    "boxes_at_threshold",
    "boxes_of_foreground",
    "component_boxes",
]
