"""MaxBoxAcc (v1, v2) and PxAP of Choe et al., "Evaluating WSOL Right" (CVPR 2020).

Both sweep the threshold instead of fixing it, and both are *dataset-level*: the
per-threshold counts are summed over images first and the maximum (or the precision-recall
curve) is taken once — not a mean of per-image maxima. The functions here therefore return
per-image counts, and the ``*_from_counts`` functions turn summed counts into the score.

Protocol (every choice a parameter; defaults are the paper's):

- maps are **min-max** normalised per image (``normalization="minmax"``);
- thresholds ``tau`` = ``np.arange(0, 1, threshold_step)`` with ``threshold_step=0.01``
  (wsolevaluation's training config; its stand-alone evaluator uses 0.001); a pixel is
  foreground when ``normalised >= tau``;
- **MaxBoxAccV2**: boxes of *all* 8-connected components; an image is correct at
  ``(tau, delta)`` when the best (box, ground-truth box) pair has IoU >= delta; BoxAcc is
  the fraction of correct images; MaxBoxAcc(delta) = max over tau; V2 = mean over
  delta in {0.3, 0.5, 0.7};
- **MaxBoxAcc (v1)**: the largest component only, delta = 0.5;
- **PxAP**: pixels of all images pooled; at each level ``tau`` (the grid plus 1.0, the
  level only the maximum pixels reach) precision and recall of ``normalised >= tau``
  against the mask; AP = sum over levels from high to low of precision x recall increase
  (the step-wise, non-interpolated AP of ``sklearn.metrics.average_precision_score``
  applied to scores quantised down to the grid). Levels where nothing is predicted
  contribute nothing.

Differences from wsolevaluation's code (deliberate, documented): maps are thresholded as
floats (it quantises to uint8 and uses OpenCV's strict ``>``), and boxes use the exclusive
pixel convention with a plain IoU (it clips ``x1`` to ``W - 1`` and adds one pixel).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from xai_eval.errors import InputValidationError
from xai_eval.metrics import device
from xai_eval.metrics.components import sweep_best_ious, sweep_best_ious_from_levels
from xai_eval.metrics.shapes import as_boxes, as_mask, as_saliency, normalize_map

IOU_THRESHOLDS = (0.3, 0.5, 0.7)


def threshold_grid(threshold_step: float = 0.01) -> np.ndarray:
    """``np.arange(0, 1, threshold_step)``, the sweep both metrics use."""
    if not 0.0 < threshold_step <= 1.0:
        raise InputValidationError(f"threshold_step must be in (0, 1], not {threshold_step}")
    return np.arange(0.0, 1.0, threshold_step)


def best_ious_per_threshold(
    saliency: Any,
    gt_boxes: Any,
    thresholds: np.ndarray,
    *,
    normalization: str = "minmax",
    connectivity: int = 8,
    box_format: str = "xyxy",
) -> tuple[np.ndarray, np.ndarray]:
    """One image's best IoU with a ground-truth box at each map threshold.

    Returns ``(best_all, best_largest)``, float arrays of shape ``(len(thresholds),)``:
    the best IoU over the boxes of all components (V2), and the IoU of the largest
    component's box (V1; 0 when nothing passes the threshold).
    """
    gt = as_boxes(gt_boxes, box_format)
    if len(gt) == 0:
        raise InputValidationError("MaxBoxAcc needs at least one ground-truth box per image")
    if device.on_accelerator(saliency):  # normalise and threshold there, label here
        normalized_t = device.normalize_map(device.device_saliency(saliency), normalization)
        return sweep_best_ious_from_levels(
            lambda unique: device.threshold_levels(normalized_t, unique),
            tuple(normalized_t.shape), gt, thresholds, connectivity)
    normalized = normalize_map(as_saliency(saliency), normalization)
    # one union-find pass over the pixels in value order yields every threshold's
    # components (xai_eval.metrics.components), identical to labelling at each threshold
    return sweep_best_ious(normalized, gt, thresholds, connectivity)


def box_accuracy_counts(
    saliency: Any,
    gt_boxes: Any,
    thresholds: np.ndarray,
    iou_thresholds: Sequence[float] = IOU_THRESHOLDS,
    **kwargs: Any,
) -> tuple[np.ndarray, np.ndarray]:
    """One image's correctness per (IoU threshold, map threshold).

    Returns ``(correct_all, correct_largest)``, two bool arrays of shape
    ``(len(iou_thresholds), len(thresholds))``: boxes from all components (V2) and from
    the largest component only (V1).
    """
    best_all, best_largest = best_ious_per_threshold(saliency, gt_boxes, thresholds, **kwargs)
    deltas = np.asarray(iou_thresholds, dtype=np.float64)[:, None]
    return best_all[None] >= deltas, best_largest[None] >= deltas


def max_box_acc_from_counts(
    correct_all: np.ndarray,
    correct_largest: np.ndarray,
    n_images: int,
    thresholds: np.ndarray,
    iou_thresholds: Sequence[float] = IOU_THRESHOLDS,
) -> dict[str, float]:
    """Scores from per-(delta, tau) counts of correct images summed over the dataset."""
    if n_images <= 0:
        return {"max_box_acc_v2": float("nan"), "max_box_acc_v1": float("nan")}
    acc_all = correct_all / n_images
    acc_largest = correct_largest / n_images
    out: dict[str, float] = {}
    for i, delta in enumerate(iou_thresholds):
        out[f"max_box_acc_iou{round(delta * 100)}"] = float(acc_all[i].max())
        out[f"best_threshold_iou{round(delta * 100)}"] = float(thresholds[int(acc_all[i].argmax())])
    out["max_box_acc_v2"] = float(acc_all.max(axis=1).mean())
    deltas = list(iou_thresholds)
    if 0.5 in deltas:
        row = acc_largest[deltas.index(0.5)]
        out["max_box_acc_v1"] = float(row.max())
        out["best_threshold"] = float(thresholds[int(row.argmax())])
    return out


def max_box_acc(
    saliencies: Sequence[Any],
    gt_boxes: Sequence[Any],
    threshold_step: float = 0.01,
    iou_thresholds: Sequence[float] = IOU_THRESHOLDS,
    **kwargs: Any,
) -> dict[str, float]:
    """MaxBoxAccV2 / V1 over a list of (map, boxes) pairs (see the module docstring)."""
    thresholds = threshold_grid(threshold_step)
    total_all = np.zeros((len(iou_thresholds), len(thresholds)))
    total_largest = np.zeros_like(total_all)
    for sal, boxes in zip(saliencies, gt_boxes, strict=True):
        c_all, c_largest = box_accuracy_counts(sal, boxes, thresholds, iou_thresholds, **kwargs)
        total_all += c_all
        total_largest += c_largest
    return max_box_acc_from_counts(total_all, total_largest, len(saliencies), thresholds,
                                   iou_thresholds)


def pixel_levels(thresholds: np.ndarray) -> np.ndarray:
    """The grid plus the top level 1.0 (sorted, unique)."""
    return np.unique(np.append(np.asarray(thresholds, dtype=np.float64), 1.0))


def pixel_histograms(
    saliency: Any,
    gt_mask: Any,
    levels: np.ndarray,
    *,
    normalization: str = "minmax",
    on_size_mismatch: str = "resize",
    ignore_mask: Any = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Counts of foreground / background pixels whose score falls in each level's bin.

    Bin ``i`` holds scores in ``[levels[i], levels[i+1])`` (the last bin: ``>= levels[-1]``);
    scores below ``levels[0]`` cannot occur for ``levels[0] == 0``. Pixels in
    ``ignore_mask`` (wsolevaluation's ignore pixels, VOC's void) are in neither histogram;
    the map is still normalised over the whole image, as wsolevaluation does.
    """
    mask = as_mask(gt_mask)
    keep = None if ignore_mask is None else ~as_mask(ignore_mask, mask.shape, "ignore_mask")
    if device.on_accelerator(saliency):
        sal_t = device.device_saliency(saliency, mask.shape, on_size_mismatch)
        return device.pixel_histograms(
            sal_t, device.device_mask(mask, sal_t.device), levels, normalization,
            None if keep is None else device.device_mask(keep, sal_t.device))
    sal = as_saliency(saliency, mask.shape, on_size_mismatch)
    normalized = normalize_map(sal, normalization)
    bins = np.searchsorted(levels, normalized.ravel(), side="right") - 1
    bins = np.clip(bins, 0, len(levels) - 1)
    flat_mask = mask.ravel()
    background = ~flat_mask
    if keep is not None:
        flat_mask, background = flat_mask & keep.ravel(), background & keep.ravel()
    pos = np.bincount(bins[flat_mask], minlength=len(levels))
    neg = np.bincount(bins[background], minlength=len(levels))
    return pos.astype(np.int64), neg.astype(np.int64)


def pxap_from_histograms(pos_hist: np.ndarray, neg_hist: np.ndarray) -> float | None:
    """Average precision from summed per-level histograms; None without any positive pixel."""
    tp = np.cumsum(pos_hist[::-1])  # predicted positive at levels from high to low
    fp = np.cumsum(neg_hist[::-1])
    n_pos = pos_hist.sum()
    if n_pos == 0:
        return None
    recall = tp / n_pos
    predicted = tp + fp
    precision = np.divide(tp, predicted, out=np.zeros(len(tp)), where=predicted > 0)
    recall_step = np.diff(np.concatenate([[0.0], recall]))
    return float((precision * recall_step).sum())


def pxap(
    saliencies: Sequence[Any],
    gt_masks: Sequence[Any],
    threshold_step: float = 0.01,
    ignore_masks: Sequence[Any] | None = None,
    **kwargs: Any,
) -> float | None:
    """PxAP over a list of (map, mask) pairs, all pixels pooled (see the module docstring).

    ``ignore_masks`` (one per pair, or None) leaves those pixels out of both histograms.
    """
    levels = pixel_levels(threshold_grid(threshold_step))
    pos = np.zeros(len(levels), dtype=np.int64)
    neg = np.zeros_like(pos)
    ignores = list(ignore_masks) if ignore_masks is not None else [None] * len(saliencies)
    for sal, mask, ignore in zip(saliencies, gt_masks, ignores, strict=True):
        p, n = pixel_histograms(sal, mask, levels, ignore_mask=ignore, **kwargs)
        pos += p
        neg += n
    return pxap_from_histograms(pos, neg)


__all__ = [
    "IOU_THRESHOLDS",
    "best_ious_per_threshold",
    "box_accuracy_counts",
    "max_box_acc",
    "max_box_acc_from_counts",
    "pixel_histograms",
    "pixel_levels",
    "pxap",
    "pxap_from_histograms",
    "threshold_grid",
]
