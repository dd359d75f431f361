"""Excitation Backprop (MWP) and its contrastive variant (c-MWP) as layer explainers.

Both run one forward pass under :class:`~xai_eval_excitation.rules.ExcitationMode` (the
forward values are those of the model; only the backward rules change) and read the
winning probabilities at the target layer's output, summed over channels — TorchRay's
``excitation_backprop`` / ``contrastive_excitation_backprop`` semantics. The default layer is
the one Grad-CAM uses (the last convolutional block); TorchRay's benchmark uses earlier ones
(VGG-16 ``features.23``, ResNet-50 ``layer3``), pass them as ``target_layer`` to match it.
"""

from __future__ import annotations

from typing import Any, ClassVar

import torch
import torch.nn as nn

from xai_eval.errors import InputValidationError, LayerResolutionError, UnsupportedModelError
from xai_eval.explain.base import LayerExplainer
from xai_eval.explain.layers import module_by_name, to_grid
from xai_eval.explain.targets import SelectedScores, TargetSpec, select_scores
from xai_eval_excitation.rules import ExcitationMode


def _freeze_parameters(model: nn.Module) -> None:
    """Only the activations carry history; the explainer's state guard restores the flags."""
    for param in model.parameters():
        param.requires_grad_(False)


class ExcitationBackprop(LayerExplainer):
    """Excitation Backprop (Zhang et al. 2016): marginal winning probability at a layer.

    Paper: https://arxiv.org/abs/1608.00507. Starting from probability 1 at the class unit,
    each linear/conv layer ``y = W a`` hands ``P(a_j) = a_j sum_i W+_ij P(y_i) / Z_i``
    down (``Z_i = sum_j W+_ij a_j``, bias ignored); ReLUs pass it, max pooling routes it to
    the arg-max, BatchNorm passes it unchanged (TorchRay's choice), residual sums split it in
    proportion to the summands. ``attribute`` returns the MWP at the target layer summed over
    channels, (B, 1, h, w); with non-negative activations it is non-negative and sums to at
    most 1. Layers without such a rule (GELU, LayerNorm, ...) are refused by name, see
    :mod:`xai_eval_excitation.rules`.

    A ``targets`` callable seeds the top-down pass with the gradient of its scores with
    respect to the model output (for a sum of class logits: probability 1 at each).

    Example::

        explainer = xai_eval.get_explainer("excitation_backprop", vgg, target_layer="features.23")
        maps = explainer(images, targets=torch.tensor([[12, 14]]))  # (1, 2, H, W)
    """

    name: ClassVar[str] = "excitation_backprop"
    paper: ClassVar[str] = "Zhang et al. 2016, arXiv:1608.00507"
    oracle: ClassVar[str] = "hand-worked 2x2 network; explicit matrix MWP; conservation"
    options: ClassVar[dict[str, Any]] = {"reshape": None}

    def _raw(self, images: torch.Tensor, targets: TargetSpec) -> tuple[torch.Tensor, SelectedScores]:
        _freeze_parameters(self.model)
        layer = self._ensure_layer(images)
        with torch.enable_grad():
            with ExcitationMode(self.name, layer.name):
                output, activation, _grid = self.forward_capture(images)
            selected = select_scores(output, targets, images.shape[0])
        mwp = self.gradients(selected.scores, activation, layer.layout)  # (B, K, C, h, w)
        return mwp.sum(dim=2, keepdim=True), selected


def _classifier(model: nn.Module, chosen: str | nn.Module | None) -> nn.Module:
    """The layer whose weights define the class units (TorchRay: the last conv/linear)."""
    if isinstance(chosen, str):
        chosen = module_by_name(model, chosen)
    if chosen is not None:
        if not isinstance(getattr(chosen, "weight", None), torch.Tensor):
            raise InputValidationError(
                f"classifier {type(chosen).__name__} has no weight tensor; pass the linear or "
                "convolutional layer that produces the class scores"
            )
        return chosen
    layers = [m for m in model.modules() if isinstance(m, (nn.Linear, nn.Conv1d, nn.Conv2d, nn.Conv3d))]
    if not layers:
        raise UnsupportedModelError(
            f"c_mwp needs a linear or convolutional classifier layer; {type(model).__name__} "
            "has none"
        )
    return layers[-1]


class ContrastiveMWP(LayerExplainer):
    """Contrastive MWP (c-MWP, Zhang et al. 2016): MWP of the class unit minus its dual's.

    The dual unit has the negated classifier weights of the class. As TorchRay does, the
    dual's winning probabilities are taken at the ``contrast_layer`` (default: the input of
    the classifier), subtracted from the class unit's there, and the difference is passed
    down to the target layer; the map is the channel sum truncated at 0. Because every rule
    is linear in the probabilities, this equals ``max(0, MWP_c - MWP_dual)`` at the target
    layer when the contrast layer separates it from the output. One forward pass serves both
    units: the dual's sign is applied to the classifier only in the backward pass, and the
    parameters are never modified.

    Options: ``classifier`` (module or dotted name; default the last conv/linear layer, as
    TorchRay picks it), ``contrast_layer`` (module or dotted name whose *output* is the
    contrast point; default ``None`` = the classifier's input). Class-index targets only:
    a callable has no classifier unit to negate.
    """

    name: ClassVar[str] = "c_mwp"
    paper: ClassVar[str] = "Zhang et al. 2016, arXiv:1608.00507 (contrastive MWP)"
    oracle: ClassVar[str] = "explicit matrix MWP of class and dual unit"
    options: ClassVar[dict[str, Any]] = {"reshape": None, "classifier": None, "contrast_layer": None}

    def _raw(self, images: torch.Tensor, targets: TargetSpec) -> tuple[torch.Tensor, SelectedScores]:
        if callable(targets) and not isinstance(targets, torch.Tensor):
            raise InputValidationError(
                "c_mwp contrasts a class unit with its negated classifier weights, so targets "
                "must be class indices; a callable has no classifier unit. Use "
                "'excitation_backprop' for arbitrary scores"
            )
        _freeze_parameters(self.model)
        layer = self._ensure_layer(images)
        classifier = _classifier(self.model, self.config["classifier"])
        contrast = self._contrast_module(classifier)
        captured: list[torch.Tensor] = []
        if contrast is classifier:
            handle = classifier.register_forward_pre_hook(
                lambda _m, inputs: captured.append(inputs[0]))
        else:
            handle = contrast.register_forward_hook(
                lambda _m, _inputs, output: captured.append(output))
        mode = ExcitationMode(self.name, layer.name, dual_weight=classifier.weight)
        try:
            with torch.enable_grad():
                with mode:
                    output, activation, _grid = self.forward_capture(images)
                selected = select_scores(output, targets, images.shape[0])
        finally:
            handle.remove()
        contrast_act = self._check_contrast(captured, mode.dual_calls)
        return self._contrastive(selected.scores, activation, contrast_act, mode, layer.layout), selected

    def _contrast_module(self, classifier: nn.Module) -> nn.Module:
        chosen = self.config["contrast_layer"]
        if chosen is None:
            return classifier
        return module_by_name(self.model, chosen) if isinstance(chosen, str) else chosen

    def _check_contrast(self, captured: list[torch.Tensor], dual_calls: int) -> torch.Tensor:
        if dual_calls != 1:
            raise UnsupportedModelError(
                f"c_mwp: the classifier layer ran {dual_calls} times above the target layer; it "
                "must run exactly once after it. Pass classifier= (the layer producing the "
                "class scores) and a target_layer below it"
            )
        where = "the classifier's input" if self.config["contrast_layer"] is None else \
            f"contrast layer {self.config['contrast_layer']!r}"
        if len(captured) != 1 or not isinstance(captured[0], torch.Tensor):
            raise LayerResolutionError(
                f"c_mwp: {where} was seen {len(captured)} times in the forward pass; it must "
                "be one tensor computed once"
            )
        if not captured[0].requires_grad:
            raise LayerResolutionError(
                f"c_mwp: {where} does not depend on the target layer; the contrast layer must "
                "lie between the target layer and the classifier"
            )
        return captured[0]

    def _contrastive(self, scores: torch.Tensor, activation: torch.Tensor,
                     contrast: torch.Tensor, mode: ExcitationMode, layout: str) -> torch.Tensor:
        maps = []
        k_total = scores.shape[1]
        with torch.enable_grad():
            for k in range(k_total):
                seed = scores[:, k].sum()
                mode.sign = -1.0
                try:
                    (dual,) = torch.autograd.grad(seed, contrast, retain_graph=True)
                finally:
                    mode.sign = 1.0
                (diff,) = torch.autograd.grad(
                    [seed, contrast], activation, [torch.ones_like(seed), -dual],
                    retain_graph=k < k_total - 1,
                )
                grid = to_grid(diff, layout, self.config.get("reshape"))
                maps.append(grid.sum(dim=1, keepdim=True).clamp(min=0))
        return torch.stack(maps, dim=1)  # (B, K, 1, h, w)
