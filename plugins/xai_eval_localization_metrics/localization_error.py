"""Localization error of the CAM and Grad-CAM papers: top-1, top-5 and GT-known."""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np
import torch

from xai_eval.metrics import device
from xai_eval.metrics.accumulate import CountingMetric, ratio, saliency_in_frame
from xai_eval.metrics.base import MetricSample
from xai_eval.metrics.localization import localization_correct


class LocalizationError(CountingMetric):
    """Weakly-supervised localization error (CAM/Grad-CAM, ILSVRC): top-1, top-5, GT-known.

    Box rule: normalise the map (``normalization="max"``), keep pixels >= ``threshold``
    (Grad-CAM 0.15, the default; CAM uses 0.20), bounding box of the largest
    (``components``) ``connectivity``-connected component; correct when IoU >=
    ``iou_threshold`` (0.5) with a ground-truth box of the class.

    - top-1 error: top-1 class wrong, or its map's box incorrect;
    - top-5 error: no class among the top ``top_k`` is the true class with a correct box
      from that class's map;
    - GT-known error: the true class's map (``MetricSample.saliency``) gives an incorrect box.

    Top-1/top-5 need ``MetricSample.topk_classes`` and ``topk_saliency``; samples without
    them count towards GT-known only (``n_top`` says how many had them). Maps whose size
    differs from the image are resized bilinearly (``on_size_mismatch="resize"``) or refused
    (``"error"``): boxes are only meaningful in the image frame.
    """

    name: ClassVar[str] = "localization_error"
    higher_is_better: ClassVar[bool] = False
    requires: ClassVar[frozenset[str]] = frozenset({"saliency", "gt_boxes"})
    params: ClassVar[dict[str, Any]] = {
        "threshold": 0.15,
        "normalization": "max",
        "components": "largest",
        "connectivity": 8,
        "iou_threshold": 0.5,
        "top_k": 5,
        "box_inclusive": False,
        "on_size_mismatch": "resize",
    }

    def empty_state(self) -> dict[str, Any]:
        return {"n": 0, "n_top": 0, "top1": 0, "top5": 0, "gt_known": 0}

    def score(self, sample: MetricSample) -> dict[str, Any]:
        cfg = self.config
        fit = cfg["on_size_mismatch"]
        topk_maps = None
        if sample.topk_saliency is not None:
            framed = [saliency_in_frame(sample, m, fit) for m in sample.topk_saliency]
            topk_maps = torch.stack(framed) if device.on_accelerator(sample.topk_saliency) \
                else np.stack(framed)
        result = localization_correct(
            sample.gt_class, sample.gt_boxes, saliency_in_frame(sample, sample.saliency, fit),
            sample.topk_classes, topk_maps,
            threshold=cfg["threshold"], normalization=cfg["normalization"],
            components=cfg["components"], connectivity=cfg["connectivity"],
            iou_threshold=cfg["iou_threshold"], top_k=cfg["top_k"],
            inclusive=cfg["box_inclusive"],
        )
        return {"top1_correct": result["top1"], "top5_correct": result["top5"],
                "gt_known_correct": result["gt_known"]}

    def absorb(self, record: dict[str, Any], class_id: int | None) -> None:
        self.count("n")
        self.count("gt_known", int(bool(record.get("gt_known_correct"))))
        if record.get("top1_correct") is not None:
            self.count("n_top")
            self.count("top1", int(bool(record["top1_correct"])))
            self.count("top5", int(bool(record["top5_correct"])))

    def compute(self) -> dict[str, float]:
        s = self.state
        top1 = ratio(s["top1"], s["n_top"])
        top5 = ratio(s["top5"], s["n_top"])
        known = ratio(s["gt_known"], s["n"])
        return {
            "top1_loc_error": None if top1 is None else 1.0 - top1,
            "top5_loc_error": None if top5 is None else 1.0 - top5,
            "gt_known_loc_error": None if known is None else 1.0 - known,
            "n_images": s["n"],
            "n_top": s["n_top"],
        }
