"""Infidelity and max-sensitivity (Yeh et al. 2019) as metric plugins (Captum's definitions)."""

from __future__ import annotations

from typing import Any, ClassVar

import torch

from xai_eval.metrics.accumulate import CountingMetric, as_module, ratio
from xai_eval.metrics.base import MetricSample
from xai_eval.metrics.robustness import infidelity, max_sensitivity
from xai_eval.metrics.seeds import SampleRandom


class _MeanMetric(CountingMetric):
    key: ClassVar[str] = ""

    def empty_state(self) -> dict[str, Any]:
        return {"sum": 0.0, "n": 0}

    def absorb(self, record: dict[str, Any], class_id: int | None) -> None:
        self.count("sum", float(record[self.key]))
        self.count("n")

    def compute(self) -> dict[str, float]:
        return {self.key: ratio(self.state["sum"], self.state["n"]), "n_images": self.state["n"]}

    def _random(self, sample: MetricSample) -> SampleRandom:
        return sample.random or SampleRandom(self.config["seed"], self.name, sample.image_id,
                                             int(sample.gt_class))


class Infidelity(_MeanMetric):
    """Infidelity (Yeh et al. 2019): squared error of the map's prediction of score changes.

    ``n_perturbations`` Gaussian perturbations (``noise_std`` 0.1 in the normalised input
    space) from the sample's random stream; the explained class's logit. Lower is better.
    """

    name: ClassVar[str] = "infidelity"
    family: ClassVar[str] = "faithfulness"
    key: ClassVar[str] = "infidelity"
    higher_is_better: ClassVar[bool] = False
    requires: ClassVar[frozenset[str]] = frozenset({"saliency", "image", "model"})
    params: ClassVar[dict[str, Any]] = {"n_perturbations": 16, "noise_std": 0.1,
                                        "output": "logit", "seed": 0,
                                        "on_size_mismatch": "resize"}

    def score(self, sample: MetricSample) -> dict[str, Any]:
        cfg = self.config
        shape = (cfg["n_perturbations"], *sample.image.shape)
        noise = cfg["noise_std"] * torch.randn(shape, generator=self._random(sample).torch("cpu"))
        return {"infidelity": infidelity(as_module(sample.model), sample.image, sample.gt_class,
                                         sample.saliency, noise, output=cfg["output"],
                                         on_size_mismatch=cfg["on_size_mismatch"])}


class MaxSensitivity(_MeanMetric):
    """Max-sensitivity (Yeh et al. 2019): the largest relative change of the map.

    Over ``n_perturbations`` uniform input perturbations of L∞ radius ``radius`` (0.02,
    Captum's default), re-explaining each. Lower is better.
    """

    name: ClassVar[str] = "max_sensitivity"
    family: ClassVar[str] = "robustness"
    key: ClassVar[str] = "max_sensitivity"
    higher_is_better: ClassVar[bool] = False
    requires: ClassVar[frozenset[str]] = frozenset({"saliency", "image", "explainer"})
    params: ClassVar[dict[str, Any]] = {"n_perturbations": 10, "radius": 0.02, "seed": 0}

    def score(self, sample: MetricSample) -> dict[str, Any]:
        cfg = self.config
        shape = (cfg["n_perturbations"], *sample.image.shape)
        generator = self._random(sample).torch("cpu")
        deltas = (torch.rand(shape, generator=generator) * 2 - 1) * cfg["radius"]
        target = torch.tensor([int(sample.gt_class)])

        def explain(image: torch.Tensor) -> torch.Tensor:
            return sample.explainer(image[None], target).detach().reshape(image.shape[-2:])

        return {"max_sensitivity": max_sensitivity(explain, sample.image, deltas)}
