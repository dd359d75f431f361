"""Every metric's pure functional form in one namespace (the math; classes call these).

Each function scores one image (or, for the dataset-level WSOL metrics, sums counts that
``*_from_counts`` / ``*_from_histograms`` turn into the score). The topic modules hold the
protocol documentation: :mod:`~xai_eval.metrics.pointing`, :mod:`~xai_eval.metrics.boxes`,
:mod:`~xai_eval.metrics.localization`, :mod:`~xai_eval.metrics.wsol`,
:mod:`~xai_eval.metrics.masks`, :mod:`~xai_eval.metrics.faithfulness`,
:mod:`~xai_eval.metrics.sanity`, and :mod:`~xai_eval.metrics.shapes` (accepted input shapes).
"""

from __future__ import annotations

from xai_eval.metrics.boxes import box_correct, box_from_saliency, box_iou, component_boxes
from xai_eval.metrics.faithfulness import (
    curve_auc,
    deletion_auc,
    insertion_auc,
    occlusion_map,
    perturbation_curve,
    rank_correlation,
)
from xai_eval.metrics.localization import box_is_correct, localization_correct
from xai_eval.metrics.masks import mask_iou, mask_overlap, mean_iou
from xai_eval.metrics.pointing import energy_in_region, pointing_hit
from xai_eval.metrics.sanity import map_similarity, randomize_model, ssim
from xai_eval.metrics.shapes import as_boxes, as_mask, as_saliency, boxes_to_mask, normalize_map
from xai_eval.metrics.wsol import (
    box_accuracy_counts,
    max_box_acc,
    max_box_acc_from_counts,
    pixel_histograms,
    pxap,
    pxap_from_histograms,
)

__all__ = [
    "as_boxes",
    "as_mask",
    "as_saliency",
    "box_accuracy_counts",
    "box_correct",
    "box_from_saliency",
    "box_iou",
    "box_is_correct",
    "boxes_to_mask",
    "component_boxes",
    "curve_auc",
    "deletion_auc",
    "energy_in_region",
    "insertion_auc",
    "localization_correct",
    "map_similarity",
    "mask_iou",
    "mask_overlap",
    "max_box_acc",
    "max_box_acc_from_counts",
    "mean_iou",
    "normalize_map",
    "occlusion_map",
    "perturbation_curve",
    "pixel_histograms",
    "pointing_hit",
    "pxap",
    "pxap_from_histograms",
    "randomize_model",
    "rank_correlation",
    "ssim",
]
