"""Model-randomisation sanity check (Adebayo et al., NeurIPS 2018)."""

from __future__ import annotations

from typing import Any, ClassVar

import torch

from xai_eval.errors import InputValidationError
from xai_eval.metrics.accumulate import CountingMetric, as_module, ratio
from xai_eval.metrics.base import MetricSample
from xai_eval.metrics.sanity import map_similarity, randomize_model


class SanityRandomization(CountingMetric):
    """Similarity of maps from the trained and a randomised model (lower = passes).

    The top ``depth`` layers (``"all"``: every layer, the end of Adebayo et al.'s cascade)
    of a copy of the model are re-initialised with ``seed``; the same explainer (same class,
    layer and options) explains the same class on the randomised copy. Per image: Spearman
    rank correlation of absolute values and SSIM (maps scaled to [0, 1], ``data_range=1``);
    scores: their means. A method whose maps stay similar is not explaining the model.
    Spearman is undefined (None, counted) when either map is constant.
    """

    name: ClassVar[str] = "sanity_randomization"
    higher_is_better: ClassVar[bool] = False
    requires: ClassVar[frozenset[str]] = frozenset({"saliency", "image", "model", "explainer"})
    params: ClassVar[dict[str, Any]] = {"depth": "all", "seed": 0, "include_norm": False}

    def __init__(self, **params: Any) -> None:
        super().__init__(**params)
        self._randomized: dict[int, tuple[Any, Any]] = {}  # id(explainer) -> (explainer, copy)

    def empty_state(self) -> dict[str, Any]:
        return {"spearman_sum": 0.0, "n_spearman": 0, "ssim_sum": 0.0, "n": 0, "constant": 0}

    def randomized_explainer(self, explainer: Any, model: Any) -> Any:
        """The same explainer built on the randomised copy of the model (cached)."""
        cached = self._randomized.get(id(explainer))
        if cached is not None and cached[0] is explainer:
            return cached[1]
        cfg = self.config
        random_model = randomize_model(as_module(model), cfg["depth"], cfg["seed"],
                                       include_norm=cfg["include_norm"])
        layer = getattr(getattr(explainer, "layer", None), "name", None)
        options = dict(getattr(explainer, "config", {}))
        try:
            clone = type(explainer)(random_model, target_layer=layer, **options)
        except TypeError as exc:
            raise InputValidationError(
                f"cannot rebuild explainer {type(explainer).__name__} on the randomised model: {exc}"
            ) from exc
        self._randomized[id(explainer)] = (explainer, clone)
        return clone

    def score(self, sample: MetricSample) -> dict[str, Any]:
        explainer = self.randomized_explainer(sample.explainer, sample.model)
        image = sample.image if sample.image.dim() == 4 else sample.image[None]
        random_map = explainer(image, torch.tensor([int(sample.gt_class)]))[0]
        return dict(map_similarity(sample.saliency, random_map))

    def absorb(self, record: dict[str, Any], class_id: int | None) -> None:
        self.count("ssim_sum", float(record["ssim"]))
        self.count("n")
        if record.get("spearman_abs") is None:
            self.count("constant")
        else:
            self.count("spearman_sum", float(record["spearman_abs"]))
            self.count("n_spearman")

    def compute(self) -> dict[str, float]:
        s = self.state
        return {"spearman_abs": ratio(s["spearman_sum"], s["n_spearman"]),
                "ssim": ratio(s["ssim_sum"], s["n"]), "n_images": s["n"],
                "n_constant": s["constant"]}
