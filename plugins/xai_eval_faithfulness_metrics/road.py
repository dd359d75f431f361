"""ROAD: remove and debias (Rong et al., ICML 2022), MoRF and LeRF with noisy linear imputation."""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np

from xai_eval.metrics.accumulate import CountingMetric, as_module, ratio
from xai_eval.metrics.base import MetricSample
from xai_eval.metrics.imputation import road_curves
from xai_eval.metrics.seeds import SampleRandom


class Road(CountingMetric):
    """ROAD (Rong et al. 2022): class score after noisy linear imputation of pixels.

    Per image and percentile ``p`` in ``percentiles`` (10..90): MoRF imputes the pixels at or
    above the map's ``p``-th percentile, LeRF those at or below its ``(100 − p)``-th; the
    image's ``morf`` / ``lerf`` are the mean class probabilities over the percentiles.
    Scores: ``morf`` (lower is better), ``lerf`` (higher is better) and ``combined`` =
    ``(lerf − morf) / 2`` (higher is better; pytorch-grad-cam's ``ROADCombined``). The
    imputation noise (``noise`` = 0.01, absolute) comes from the sample's random stream.
    """

    name: ClassVar[str] = "road"
    family: ClassVar[str] = "faithfulness"
    higher_is_better: ClassVar[bool] = True
    requires: ClassVar[frozenset[str]] = frozenset({"saliency", "image", "model"})
    params: ClassVar[dict[str, Any]] = {
        "percentiles": (10, 20, 30, 40, 50, 60, 70, 80, 90), "noise": 0.01,
        "output": "softmax", "seed": 0, "on_size_mismatch": "resize"}

    def empty_state(self) -> dict[str, Any]:
        return {"morf_sum": 0.0, "lerf_sum": 0.0, "n": 0}

    def score(self, sample: MetricSample) -> dict[str, Any]:
        cfg = self.config
        random = sample.random or SampleRandom(cfg["seed"], self.name, sample.image_id,
                                               int(sample.gt_class))
        before, morf, lerf = road_curves(
            as_module(sample.model), sample.image, sample.gt_class, sample.saliency,
            tuple(cfg["percentiles"]), noise=cfg["noise"], generator=random.torch("cpu"),
            output=cfg["output"], on_size_mismatch=cfg["on_size_mismatch"])
        return {"score": before, "morf": float(np.mean(morf)), "lerf": float(np.mean(lerf)),
                "combined": (float(np.mean(lerf)) - float(np.mean(morf))) / 2}

    def absorb(self, record: dict[str, Any], class_id: int | None) -> None:
        self.count("morf_sum", float(record["morf"]))
        self.count("lerf_sum", float(record["lerf"]))
        self.count("n")

    def compute(self) -> dict[str, float]:
        s = self.state
        morf, lerf = ratio(s["morf_sum"], s["n"]), ratio(s["lerf_sum"], s["n"])
        combined = None if morf is None or lerf is None else (lerf - morf) / 2
        return {"combined": combined, "morf": morf, "lerf": lerf, "n_images": s["n"]}
