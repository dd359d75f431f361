"""The per-threshold labelling code that MaxBoxAcc and the box rule used before the
component tree (:mod:`xai_eval.metrics.components`): kept verbatim as the tests' oracle.

``scipy.ndimage.label`` at every threshold where the foreground changes, boxes from
per-label extents; simple enough to trust, ~40 ms per 224x224 map at 100 thresholds.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from scipy import ndimage

from xai_eval.metrics.boxes import _pairwise_iou
from xai_eval.metrics.shapes import as_boxes, as_saliency, normalize_map

STRUCTURES = {
    8: np.ones((3, 3), dtype=bool),
    4: ndimage.generate_binary_structure(2, 1),
}


def reference_component_boxes(binary: np.ndarray, connectivity: int = 8
                              ) -> tuple[np.ndarray, np.ndarray]:
    """Boxes (K, 4, xyxy exclusive) and sizes (K,) in scipy's label order."""
    labels, count = ndimage.label(binary, structure=STRUCTURES[connectivity])
    if count == 0:
        return np.zeros((0, 4)), np.zeros(0, dtype=np.int64)
    flat = labels.ravel()
    index = np.flatnonzero(flat)
    label = flat[index] - 1
    rows, cols = np.divmod(index, labels.shape[1])
    x1 = np.full(count, np.iinfo(np.int64).max)
    y1 = np.full(count, np.iinfo(np.int64).max)
    x2 = np.full(count, -1)
    y2 = np.full(count, -1)
    np.minimum.at(x1, label, cols)
    np.minimum.at(y1, label, rows)
    np.maximum.at(x2, label, cols)
    np.maximum.at(y2, label, rows)
    boxes = np.stack([x1, y1, x2 + 1, y2 + 1], axis=1).astype(np.float64)
    sizes = np.bincount(label, minlength=count)
    return boxes, sizes


def reference_best_ious(saliency: Any, gt_boxes: Any, thresholds: np.ndarray, *,
                        normalization: str = "minmax", connectivity: int = 8,
                        box_format: str = "xyxy") -> tuple[np.ndarray, np.ndarray]:
    """(best IoU over all components, IoU of the largest) at each threshold."""
    gt = as_boxes(gt_boxes, box_format)
    thresholds = np.asarray(thresholds, dtype=np.float64)
    normalized = normalize_map(as_saliency(saliency), normalization)
    best_all = np.zeros(len(thresholds))
    best_largest = np.zeros(len(thresholds))
    ordered = np.sort(normalized.ravel())
    counts = ordered.size - np.searchsorted(ordered, thresholds, side="left")
    previous_count = -1
    current = (0.0, 0.0)
    for index, tau in enumerate(thresholds):
        if counts[index] != previous_count:
            previous_count = counts[index]
            boxes, sizes = reference_component_boxes(normalized >= tau, connectivity)
            if len(boxes) == 0:
                current = (0.0, 0.0)
            else:
                ious = _pairwise_iou(boxes, gt).max(axis=1)
                current = (float(ious.max()), float(ious[int(np.argmax(sizes))]))
        best_all[index], best_largest[index] = current
    return best_all, best_largest
