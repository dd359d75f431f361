"""Weakly-supervised localization error of the CAM and Grad-CAM papers (ILSVRC protocol).

Per image with true class ``c`` and ground-truth boxes ``B_c``:

- **top-1 correct**: the top-1 predicted class is ``c`` *and* the box from the top-1
  class's map has IoU >= 0.5 with a box in ``B_c``;
- **top-5 correct**: one of the top-5 classes is ``c`` with a correct box from that class's
  map (only the position holding ``c`` can be correct, so one box is computed);
- **GT-known correct**: the box from the true class's map is correct, whatever the
  prediction.

Errors are ``1 - accuracy`` over images. The box rule is :func:`box_from_saliency`
(normalise, threshold, largest 8-connected component). A fixed threshold is the papers'
protocol; to pick it on a held-out split instead, run ``max_box_acc`` there and pass its
``best_threshold`` here.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from xai_eval.errors import InputValidationError
from xai_eval.metrics import device
from xai_eval.metrics.boxes import box_correct, box_from_saliency
from xai_eval.metrics.shapes import as_boxes, to_numpy


def box_is_correct(
    saliency: Any,
    gt_boxes: Any,
    threshold: float = 0.15,
    *,
    normalization: str = "max",
    components: str = "largest",
    connectivity: int = 8,
    iou_threshold: float = 0.5,
    box_format: str = "xyxy",
    inclusive: bool = False,
) -> bool:
    """Is the box extracted from ``saliency`` correct (IoU >= ``iou_threshold``)?"""
    boxes = box_from_saliency(saliency, threshold, normalization, components, connectivity)
    return box_correct(boxes, gt_boxes, iou_threshold, box_format=box_format, inclusive=inclusive)


def localization_correct(
    gt_class: int,
    gt_boxes: Any,
    saliency: Any = None,
    topk_classes: Any = None,
    topk_saliency: Any = None,
    *,
    threshold: float = 0.15,
    normalization: str = "max",
    components: str = "largest",
    connectivity: int = 8,
    iou_threshold: float = 0.5,
    top_k: int = 5,
    box_format: str = "xyxy",
    inclusive: bool = False,
) -> dict[str, bool | None]:
    """Top-1, top-k and GT-known correctness of one image (``None`` when not computable).

    Args:
        gt_class: the true class.
        gt_boxes: boxes of the true class (xyxy or xywh per ``box_format``).
        saliency: the true class's map (for GT-known); optional.
        topk_classes: predicted classes, best first (at least ``top_k`` for top-k).
        topk_saliency: (K, H, W) maps for ``topk_classes``.
        threshold, normalization, components, connectivity: the box rule
            (:func:`box_from_saliency`); Grad-CAM defaults.
        iou_threshold: 0.5 in both papers.
    """
    if len(as_boxes(gt_boxes, box_format)) == 0:
        raise InputValidationError(
            f"image has no ground-truth box for class {gt_class}; localization error needs one"
        )
    rule = dict(
        threshold=threshold, normalization=normalization, components=components,
        connectivity=connectivity, iou_threshold=iou_threshold, box_format=box_format,
        inclusive=inclusive,
    )
    result: dict[str, bool | None] = {"top1": None, "top5": None, "gt_known": None}
    if saliency is not None:
        result["gt_known"] = box_is_correct(saliency, gt_boxes, **rule)
    if topk_classes is not None and topk_saliency is not None:
        classes = to_numpy(topk_classes, "topk_classes").reshape(-1).astype(np.int64)
        maps = (topk_saliency if device.on_accelerator(topk_saliency)  # stays on its device
                else to_numpy(topk_saliency, "topk_saliency"))
        if maps.ndim != 3 or maps.shape[0] < min(len(classes), top_k):
            raise InputValidationError(
                f"topk_saliency must be (K, H, W) with one map per class in topk_classes; got "
                f"{maps.shape} for {len(classes)} classes"
            )
        hits = np.flatnonzero(classes[:top_k] == int(gt_class))
        if len(hits) == 0:
            result["top1"] = result["top5"] = False
        else:
            position = int(hits[0])
            if result["gt_known"] is not None and _same_map(maps[position], saliency):
                correct = result["gt_known"]  # the true class's map again: same box, same answer
            else:
                correct = box_is_correct(maps[position], gt_boxes, **rule)
            result["top5"] = correct
            result["top1"] = correct and position == 0
    return result


def _same_map(a: Any, b: Any) -> bool:
    """Whether two maps hold the same values (the box rule is a function of the values).

    The suite explains the true class twice when it is among the top 5 (once as a top-k
    target, once as the GT-known target); the two maps are usually identical, and then
    one component labelling serves both.
    """
    if isinstance(a, np.ndarray) and isinstance(b, np.ndarray):
        return a.shape == b.shape and a.dtype == b.dtype and np.array_equal(a, b)
    if device.on_accelerator(a) and device.on_accelerator(b):
        import torch

        return a.shape == b.shape and a.dtype == b.dtype and a.device == b.device \
            and bool(torch.equal(a, b))
    return False


__all__ = ["box_is_correct", "localization_correct"]
