"""Average drop % and increase in confidence % (Chattopadhay et al., Grad-CAM++ 2018)."""

from __future__ import annotations

from typing import Any, ClassVar

from xai_eval.metrics.accumulate import CountingMetric, as_module, ratio
from xai_eval.metrics.base import MetricSample
from xai_eval.metrics.confidence import average_drop, confidence_change


class AverageDrop(CountingMetric):
    """Average drop % (lower is better) and increase in confidence % (higher is better).

    Per image: the explained class's softmax score of the image (``Y``) and of the image
    multiplied by the max-normalised map (``O``); ``drop = max(0, Y − O) / Y`` and
    ``increase = O > Y``. The scores are the means over images, in percent. See
    :mod:`xai_eval.metrics.confidence` for the choices and their peers.
    """

    name: ClassVar[str] = "average_drop"
    family: ClassVar[str] = "faithfulness"
    higher_is_better: ClassVar[bool] = False
    requires: ClassVar[frozenset[str]] = frozenset({"saliency", "image", "model"})
    params: ClassVar[dict[str, Any]] = {"output": "softmax", "normalization": "max",
                                        "on_size_mismatch": "resize"}

    def empty_state(self) -> dict[str, Any]:
        return {"drop_sum": 0.0, "increase": 0, "n": 0}

    def score(self, sample: MetricSample) -> dict[str, Any]:
        cfg = self.config
        before, after = confidence_change(
            as_module(sample.model), sample.image, sample.gt_class, sample.saliency,
            output=cfg["output"], normalization=cfg["normalization"],
            on_size_mismatch=cfg["on_size_mismatch"])
        return {"score": before, "masked_score": after, "drop": average_drop(before, after),
                "increase": after > before}

    def absorb(self, record: dict[str, Any], class_id: int | None) -> None:
        self.count("drop_sum", float(record["drop"]))
        self.count("increase", int(bool(record["increase"])))
        self.count("n")

    def compute(self) -> dict[str, float]:
        s = self.state
        drop, increase = ratio(s["drop_sum"], s["n"]), ratio(s["increase"], s["n"])
        return {"average_drop": None if drop is None else 100.0 * drop,
                "increase_in_confidence": None if increase is None else 100.0 * increase,
                "n_images": s["n"]}
