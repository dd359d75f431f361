"""Pointing game (TorchRay's protocol) and the energy-based pointing game (Score-CAM)."""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np

from xai_eval.errors import InputValidationError
from xai_eval.metrics.accumulate import CountingMetric, class_mean, ratio, saliency_in_frame
from xai_eval.metrics.base import MetricSample
from xai_eval.metrics.pointing import energy_in_region, pointing_hit
from xai_eval.metrics.shapes import is_constant, to_numpy

REGIONS = ("auto", "mask", "boxes")


def sample_region(sample: MetricSample, region: str) -> dict[str, Any]:
    """Keyword arguments naming the sample's ground truth: its mask or its boxes."""
    if region not in REGIONS:
        raise InputValidationError(f"region must be one of {REGIONS}, not {region!r}")
    use_mask = region == "mask" or (region == "auto" and sample.gt_mask is not None)
    if use_mask:
        if sample.gt_mask is None:
            raise InputValidationError(
                f"region='mask' but image {sample.image_id!r} has no gt_mask; use region='boxes'"
            )
        return {"gt_mask": sample.gt_mask, "ignore_mask": sample.ignore_mask}
    boxes = sample.gt_boxes if sample.gt_boxes is not None else np.zeros((0, 4))
    return {"gt_mask": None, "gt_boxes": boxes}


def all_boxes_difficult(sample: MetricSample) -> bool:
    """VOC: every box of the class is PASCAL-difficult (TorchRay skips such pairs)."""
    flags = sample.gt_box_difficult
    if flags is None:
        return False
    flags = to_numpy(flags, "gt_box_difficult").astype(bool).reshape(-1)
    return flags.size > 0 and bool(flags.all())


class PointingGame(CountingMetric):
    """Pointing game (Zhang et al. 2016, TorchRay): is the map's maximum on the object?

    Per (image, class) pair the map's maximum hits when a ground-truth pixel lies at
    distance² < ``tolerance``² (pixels). Accuracy per class = hits / (hits + misses), the
    score = the mean over classes that occurred (TorchRay averages over all dataset classes;
    on VOC07 and COCO every class occurs, so the two agree). Reported for the "all" pairs
    and the "difficult" subset (``MetricSample.difficult``, TorchRay's EBP flags).

    Parameters: ``tolerance`` (15), ``tie`` (``"reject"``: every tied maximum must hit; see
    :mod:`xai_eval.metrics.pointing`), ``tie_tolerance`` (1e-6 relative: which pixels tie
    with the maximum), ``region`` (``"auto"``: the mask when the dataset has
    one, else the union of the class's boxes), ``skip_all_difficult`` (True: VOC pairs whose
    boxes are all PASCAL-difficult are skipped, as TorchRay does), ``on_size_mismatch``.
    A constant map is a miss; an empty region is excluded and counted.
    """

    name: ClassVar[str] = "pointing_game"
    higher_is_better: ClassVar[bool] = True
    requires: ClassVar[frozenset[str]] = frozenset({"saliency"})
    params: ClassVar[dict[str, Any]] = {
        "tolerance": 15,
        "tie": "reject",
        "tie_tolerance": 1e-6,
        "region": "auto",
        "skip_all_difficult": True,
        "on_size_mismatch": "resize",
    }

    def empty_state(self) -> dict[str, Any]:
        return {"hits": {}, "pairs": {}, "hits_difficult": {}, "pairs_difficult": {},
                "excluded_empty": 0, "skipped_difficult_boxes": 0, "constant_maps": 0}

    def score(self, sample: MetricSample) -> dict[str, Any]:
        cfg = self.config
        record: dict[str, Any] = {"hit": None, "difficult": bool(sample.difficult)}
        if cfg["skip_all_difficult"] and all_boxes_difficult(sample):
            return {**record, "skipped_all_difficult": True}
        saliency = saliency_in_frame(sample, sample.saliency, cfg["on_size_mismatch"])
        region = sample_region(sample, cfg["region"])
        region.pop("ignore_mask", None)  # a hit is about distance to the object: see docs
        hit = pointing_hit(saliency, tolerance=cfg["tolerance"], tie=cfg["tie"],
                           tie_tolerance=cfg["tie_tolerance"],
                           on_size_mismatch=cfg["on_size_mismatch"], **region)
        if hit is None:
            return {**record, "empty_region": True}
        return {**record, "hit": hit, "constant_map": is_constant(saliency)}

    def absorb(self, record: dict[str, Any], class_id: int | None) -> None:
        if record.get("skipped_all_difficult"):
            self.count("skipped_difficult_boxes")
            return
        if record.get("hit") is None:
            self.count("excluded_empty")
            return
        self.count("constant_maps", int(bool(record.get("constant_map"))))
        key = str(class_id)
        hit = bool(record["hit"])
        subsets = ["hits", "pairs"]
        if record.get("difficult"):
            subsets += ["hits_difficult", "pairs_difficult"]
        for name in subsets:
            if name.startswith("pairs") or hit:
                self.state[name][key] = self.state[name].get(key, 0) + 1

    def compute(self) -> dict[str, float]:
        s = self.state
        return {
            "accuracy": class_mean(s["hits"], s["pairs"]),
            "accuracy_difficult": class_mean(s["hits_difficult"], s["pairs_difficult"]),
            "n_pairs": sum(s["pairs"].values()),
            "n_pairs_difficult": sum(s["pairs_difficult"].values()),
            "n_classes": len(s["pairs"]),
            "n_excluded_empty_region": s["excluded_empty"],
            "n_skipped_all_difficult": s["skipped_difficult_boxes"],
            "n_constant_maps": s["constant_maps"],
        }


class EnergyPointingGame(CountingMetric):
    """Energy-based pointing game (Wang et al., Score-CAM 2020): map mass inside the object.

    Per pair: sum of the (rectified) map inside the ground-truth region / its total sum;
    the score is the mean over pairs. ``region`` defaults to ``"boxes"`` (Score-CAM uses
    bounding boxes); ``"mask"`` or ``"auto"`` use segmentation masks. An all-zero map scores
    0; an empty region is excluded and counted.
    """

    name: ClassVar[str] = "energy_pointing_game"
    higher_is_better: ClassVar[bool] = True
    requires: ClassVar[frozenset[str]] = frozenset({"saliency"})
    params: ClassVar[dict[str, Any]] = {"region": "boxes", "on_size_mismatch": "resize"}

    def empty_state(self) -> dict[str, Any]:
        return {"energy_sum": 0.0, "n": 0, "excluded_empty": 0}

    def score(self, sample: MetricSample) -> dict[str, Any]:
        region = sample_region(sample, self.config["region"])
        saliency = saliency_in_frame(sample, sample.saliency, self.config["on_size_mismatch"])
        energy = energy_in_region(saliency, on_size_mismatch=self.config["on_size_mismatch"],
                                  **region)
        return {"energy": energy} if energy is not None else {"energy": None, "empty_region": True}

    def absorb(self, record: dict[str, Any], class_id: int | None) -> None:
        if record.get("energy") is None:
            self.count("excluded_empty")
            return
        self.count("energy_sum", float(record["energy"]))
        self.count("n")

    def compute(self) -> dict[str, float]:
        s = self.state
        return {"energy": ratio(s["energy_sum"], s["n"]), "n_pairs": s["n"],
                "n_excluded_empty_region": s["excluded_empty"]}

