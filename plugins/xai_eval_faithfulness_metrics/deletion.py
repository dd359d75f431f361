"""Deletion and insertion AUC (Petsiuk et al., RISE, BMVC 2018)."""

from __future__ import annotations

from typing import Any, ClassVar

from xai_eval.metrics.accumulate import CountingMetric, as_module, ratio
from xai_eval.metrics.base import MetricSample
from xai_eval.metrics.faithfulness import deletion_auc, insertion_auc


class _CurveMetric(CountingMetric):
    """Shared bookkeeping: the mean of per-image AUCs."""

    requires: ClassVar[frozenset[str]] = frozenset({"saliency", "image", "model"})

    def empty_state(self) -> dict[str, Any]:
        return {"auc_sum": 0.0, "n": 0}

    def _auc(self, sample: MetricSample) -> float:
        raise NotImplementedError

    def score(self, sample: MetricSample) -> dict[str, Any]:
        return {"auc": self._auc(sample)}

    def absorb(self, record: dict[str, Any], class_id: int | None) -> None:
        self.count("auc_sum", float(record["auc"]))
        self.count("n")

    def compute(self) -> dict[str, float]:
        return {"auc": ratio(self.state["auc_sum"], self.state["n"]), "n_images": self.state["n"]}


class Deletion(_CurveMetric):
    """Deletion AUC (RISE): class probability as the most salient pixels are removed first.

    ``step`` pixels per step (RISE: 224 on 224x224 images), removed pixels set to
    ``baseline`` (0 in the normalised input space = the mean colour), softmax probability
    of the explained class (``output="softmax"``), trapezoidal AUC over the fraction of
    pixels removed. Lower is better. ``batch_size`` bounds memory; fully deterministic.
    """

    name: ClassVar[str] = "deletion"
    higher_is_better: ClassVar[bool] = False
    params: ClassVar[dict[str, Any]] = {"step": 224, "baseline": 0.0, "output": "softmax",
                                        "batch_size": 32, "on_size_mismatch": "resize"}

    def _auc(self, sample: MetricSample) -> float:
        cfg = self.config
        return deletion_auc(as_module(sample.model), sample.image, sample.gt_class,
                            sample.saliency, cfg["step"], cfg["baseline"], output=cfg["output"],
                            batch_size=cfg["batch_size"], on_size_mismatch=cfg["on_size_mismatch"])


class Insertion(_CurveMetric):
    """Insertion AUC (RISE): class probability as the most salient pixels are restored first.

    Starts from the image blurred with a Gaussian (``blur_kernel`` 11, ``blur_sigma`` 5, as
    RISE) and restores ``step`` pixels per step; softmax probability; trapezoidal AUC over
    the fraction restored. Higher is better.
    """

    name: ClassVar[str] = "insertion"
    higher_is_better: ClassVar[bool] = True
    params: ClassVar[dict[str, Any]] = {"step": 224, "blur_kernel": 11, "blur_sigma": 5.0,
                                        "output": "softmax", "batch_size": 32,
                                        "on_size_mismatch": "resize"}

    def _auc(self, sample: MetricSample) -> float:
        cfg = self.config
        return insertion_auc(as_module(sample.model), sample.image, sample.gt_class,
                             sample.saliency, cfg["step"], cfg["blur_kernel"], cfg["blur_sigma"],
                             output=cfg["output"], batch_size=cfg["batch_size"],
                             on_size_mismatch=cfg["on_size_mismatch"])
