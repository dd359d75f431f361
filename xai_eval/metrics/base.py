"""What every metric receives and how it accumulates (the torchmetrics pattern).

The math lives in pure functions (``xai_eval.metrics.functional`` and friends); a
:class:`Metric` class calls them per sample in :meth:`Metric.update`, returns the per-image
values (which the suite runner stores, one SQL row per image), and aggregates in
:meth:`Metric.compute`.
"""

from __future__ import annotations

from dataclasses import InitVar, dataclass, field, replace
from typing import Any, ClassVar

import torch

from xai_eval.metrics.seeds import SampleRandom


@dataclass(frozen=True)
class MetricContext:
    """What every sample of one batch shares: the model and explainer under test, and where
    the samples come from. The suite runner builds one per (batch, explainer) and hands the
    same object to every sample of it, so a metric that needs the model (deletion,
    insertion) or the explainer (occlusion correlation, sanity checks) receives them once,
    not as per-sample data."""

    model: Any = None  # torch.nn.Module (or LoadedModel), for perturbation metrics
    explainer: Any = None  # xai_eval Explainer, for occlusion correlation / sanity checks
    dataset: str = ""  # suite ids of the dataset, model and explainer ("" outside a suite)
    model_id: str = ""
    explainer_id: str = ""


@dataclass
class MetricSample:
    """One (image, class) pair to score: its ground truth, its map, and the batch's context.

    Sizes: ``saliency`` and masks are at the image's (model input) resolution H x W.
    Boxes are float ``xyxy`` pixel coordinates in that same frame.
    """

    image_id: str
    gt_class: int  # the class explained (the ground-truth class for GT-known metrics)
    saliency: torch.Tensor  # (H, W) non-negative map for gt_class
    gt_boxes: torch.Tensor  # (N, 4) boxes of gt_class; may be empty (0, 4)
    gt_mask: torch.Tensor | None = None  # (H, W) bool mask of gt_class, if the dataset has masks
    image: torch.Tensor | None = None  # (3, H, W) model-ready (normalised) input
    difficult: bool = False  # TorchRay's "difficult" subset flag for this (image, class)
    gt_box_difficult: torch.Tensor | None = None  # (N,) bool, PASCAL "difficult" per box
    all_gt_classes: tuple[int, ...] = ()  # every class annotated in the image
    logits: torch.Tensor | None = None  # (C,) model output for the image
    topk_classes: torch.Tensor | None = None  # (5,) predicted classes, best first
    topk_saliency: torch.Tensor | None = None  # (5, H, W) maps for topk_classes
    #: per-sample odds and ends: the suite sets ``region`` and ``item_extras`` (the dataset
    #: item's extras); tests may pass e.g. a precomputed ``occlusion_map``
    extras: dict[str, Any] = field(default_factory=dict)
    #: (H, W) bool pixels to leave out of mask metrics: VOC's void label 255, wsolevaluation's
    #: ignore pixels. Neither foreground nor background (mask IoU, PxAP, energy on masks).
    ignore_mask: torch.Tensor | None = None
    #: this (metric, image, class)'s random streams; the suite runner sets it per metric
    #: (``SampleRandom(seed, metric id, image_id, gt_class)``), so a stochastic metric draws
    #: the same numbers whatever the batch, shard or resume, without the global RNG
    random: SampleRandom | None = None
    #: the batch's shared context (model, explainer, ids); one object for the whole batch
    context: MetricContext = field(default_factory=MetricContext)
    #: outside a suite (tests, scripts), ``model=``/``explainer=`` go into ``context``;
    #: reading ``sample.model``/``sample.explainer`` returns the context's
    model: InitVar[Any] = None
    explainer: InitVar[Any] = None

    def __post_init__(self, model: Any, explainer: Any) -> None:
        if model is not None or explainer is not None:
            self.context = replace(
                self.context, model=self.context.model if model is None else model,
                explainer=self.context.explainer if explainer is None else explainer)


# Read access to the context's model/explainer; set after the dataclass is built, so the
# generated __init__ keeps ``model``/``explainer`` as (init-only) parameters.
MetricSample.model = property(  # type: ignore[assignment,misc]
    lambda self: self.context.model, doc="The model under test (``context.model``).")
MetricSample.explainer = property(  # type: ignore[assignment,misc]
    lambda self: self.context.explainer, doc="The explainer under test (``context.explainer``).")


class Metric:
    """Base class of metric plugins: ``update`` per sample, ``compute`` at the end.

    Subclasses set ``name``, ``higher_is_better``, ``requires`` (sample fields that must
    not be None/empty, e.g. ``{"gt_mask"}``) and the parameters they accept in ``params``
    (name -> paper default), so a suite can record every protocol choice.

    Randomness comes from ``sample.random`` (a :class:`SampleRandom`). A metric that can
    only draw from torch's *global* RNG sets ``global_rng = True``: the runner then also
    reseeds it per sample with the same seed (``torch.manual_seed``, as it used to for
    every metric; ~0.1-3 ms a call, so only where asked).
    """

    name: ClassVar[str] = ""
    higher_is_better: ClassVar[bool] = True
    requires: ClassVar[frozenset[str]] = frozenset()
    params: ClassVar[dict[str, Any]] = {}
    global_rng: ClassVar[bool] = False

    def __init__(self, **params: Any) -> None:
        unknown = sorted(set(params) - set(self.params))
        if unknown:
            from xai_eval.errors import InputValidationError

            raise InputValidationError(
                f"metric {self.name!r} has no parameter(s) {unknown}; its parameters are "
                f"{sorted(self.params) or 'none'}"
            )
        self.config: dict[str, Any] = {**self.params, **params}
        self.reset()

    def reset(self) -> None:
        """Forget accumulated state."""
        raise NotImplementedError

    def update(self, sample: MetricSample) -> dict[str, float | bool | None]:
        """Score one sample; return its per-image values (JSON-serialisable scalars)."""
        raise NotImplementedError

    def compute(self) -> dict[str, float]:
        """Aggregate everything seen since :meth:`reset`."""
        raise NotImplementedError
