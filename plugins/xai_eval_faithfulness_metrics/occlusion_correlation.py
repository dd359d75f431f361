"""Rank correlation with occlusion maps (Grad-CAM paper §5.3, "faithfulness")."""

from __future__ import annotations

from collections import OrderedDict
from typing import Any, ClassVar

import numpy as np

from xai_eval.errors import InputValidationError
from xai_eval.metrics.accumulate import CountingMetric, as_module, ratio
from xai_eval.metrics.base import MetricSample
from xai_eval.metrics.faithfulness import occlusion_map, rank_correlation

CONSTANT_RULES = ("zero", "exclude")
CACHE_SIZE = 8


class OcclusionCorrelation(CountingMetric):
    """Spearman rank correlation between the map and an occlusion map (Grad-CAM §5.3).

    The occlusion map (score drop when a ``patch_size`` patch at ``stride`` is set to
    ``fill``; the paper gives none of these) is taken from ``sample.extras["occlusion_map"]``
    when the runner supplies it (it does not depend on the explainer, so it can be shared),
    otherwise computed here and cached per (model, image, class). Score: the mean of per-image rho.
    A constant map has no ranking: ``constant_map="zero"`` scores it 0 (no agreement; the
    default, so blank maps are not silently dropped), ``"exclude"`` leaves it out; both count it.
    """

    name: ClassVar[str] = "occlusion_correlation"
    higher_is_better: ClassVar[bool] = True
    requires: ClassVar[frozenset[str]] = frozenset({"saliency", "image", "model"})
    params: ClassVar[dict[str, Any]] = {
        "patch_size": 32,
        "stride": 16,
        "fill": 0.0,
        "output": "logit",
        "batch_size": 32,
        "constant_map": "zero",
    }

    def __init__(self, **params: Any) -> None:
        super().__init__(**params)
        if self.config["constant_map"] not in CONSTANT_RULES:
            raise InputValidationError(
                f"constant_map must be one of {CONSTANT_RULES}, not {self.config['constant_map']!r}"
            )
        # a few recent maps only: images arrive in order, and 224x224 float64 maps are 400 kB
        self._cache: OrderedDict[tuple[int, str, int], np.ndarray] = OrderedDict()

    def empty_state(self) -> dict[str, Any]:
        return {"rho_sum": 0.0, "n": 0, "constant": 0}

    def occlusion_for(self, sample: MetricSample) -> np.ndarray:
        """The sample's occlusion map: supplied by the runner, cached, or computed."""
        supplied = sample.extras.get("occlusion_map")
        if supplied is not None:
            return supplied
        model = as_module(sample.model)
        key = (id(model), sample.image_id, int(sample.gt_class))
        if key in self._cache:
            self._cache.move_to_end(key)
            return self._cache[key]
        cfg = self.config
        result = occlusion_map(model, sample.image, int(sample.gt_class), cfg["patch_size"],
                               cfg["stride"], cfg["fill"], output=cfg["output"],
                               batch_size=cfg["batch_size"])
        self._cache[key] = result
        while len(self._cache) > CACHE_SIZE:
            self._cache.popitem(last=False)
        return result

    def score(self, sample: MetricSample) -> dict[str, Any]:
        rho = rank_correlation(sample.saliency, self.occlusion_for(sample))
        if rho is not None:
            return {"rho": rho}
        if self.config["constant_map"] == "exclude":
            return {"rho": None, "constant": True}
        return {"rho": 0.0, "constant": True}

    def absorb(self, record: dict[str, Any], class_id: int | None) -> None:
        self.count("constant", int(bool(record.get("constant"))))
        if record.get("rho") is not None:
            self.count("rho_sum", float(record["rho"]))
            self.count("n")

    def compute(self) -> dict[str, float]:
        s = self.state
        return {"rank_correlation": ratio(s["rho_sum"], s["n"]), "n_images": s["n"],
                "n_constant": s["constant"]}
