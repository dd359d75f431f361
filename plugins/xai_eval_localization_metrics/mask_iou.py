"""Mask IoU of the binarised map with the class's segmentation mask, and mIoU."""

from __future__ import annotations

from typing import Any, ClassVar

from xai_eval.metrics.accumulate import CountingMetric, ratio
from xai_eval.metrics.base import MetricSample
from xai_eval.metrics.masks import mask_overlap, mean_iou


class MaskIoU(CountingMetric):
    """Mask IoU: normalised map >= ``threshold`` against the class mask; mIoU over classes.

    ``miou``: per class total intersection / total union over the dataset, averaged over
    classes (the segmentation convention). ``mean_image_iou``: the plain mean of per-image
    IoUs. The binarisation has no paper default: ``normalization="max"``, ``threshold=0.5``.
    Pairs where both the prediction and the mask are empty are excluded and counted.
    ``MetricSample.ignore_mask`` pixels (VOC's void band) count in neither intersection nor
    union.
    """

    name: ClassVar[str] = "mask_iou"
    higher_is_better: ClassVar[bool] = True
    requires: ClassVar[frozenset[str]] = frozenset({"saliency", "gt_mask"})
    params: ClassVar[dict[str, Any]] = {
        "threshold": 0.5,
        "normalization": "max",
        "on_size_mismatch": "resize",
    }

    def empty_state(self) -> dict[str, Any]:
        return {"intersection": {}, "union": {}, "iou_sum": 0.0, "n": 0, "excluded_empty": 0}

    def score(self, sample: MetricSample) -> dict[str, Any]:
        inter, union = mask_overlap(sample.saliency, sample.gt_mask, self.config["threshold"],
                                    normalization=self.config["normalization"],
                                    on_size_mismatch=self.config["on_size_mismatch"],
                                    ignore_mask=sample.ignore_mask)
        iou = None if union == 0 else inter / union
        return {"iou": iou, "intersection": inter, "union": union}

    def absorb(self, record: dict[str, Any], class_id: int | None) -> None:
        if not record.get("union"):
            self.count("excluded_empty")
            return
        key = str(class_id)
        for name in ("intersection", "union"):
            self.state[name][key] = self.state[name].get(key, 0) + int(record[name])
        self.count("iou_sum", int(record["intersection"]) / int(record["union"]))
        self.count("n")

    def compute(self) -> dict[str, float]:
        s = self.state
        return {"miou": mean_iou(s["intersection"], s["union"]),
                "mean_image_iou": ratio(s["iou_sum"], s["n"]),
                "n_pairs": s["n"], "n_excluded_empty": s["excluded_empty"]}
