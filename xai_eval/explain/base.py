"""The explainer base classes every plugin builds on.

An :class:`Explainer` owns what all methods share — input validation, target selection,
the model-state guard, upsampling and degenerate-map flags — so a method implements one
function, :meth:`Explainer._raw`, which returns its raw attribution for K targets at once.

Two families add the plumbing their methods need:

- :class:`LayerExplainer` (CAM, Grad-CAM, ...) resolves the target layer and captures its
  output in one forward pass. Layers *before* the target run without autograd, so the cost
  is one forward plus a backward that stops at the target layer — the physical floor.
- :class:`InputGradientExplainer` (backprop, guided backprop, deconvnet) differentiates the
  scores with respect to a detached alias of the input: the caller's tensor is never touched.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, ClassVar

import torch
import torch.nn as nn

from xai_eval.errors import (
    InputTypeError,
    InputValidationError,
    LayerResolutionError,
    ModelOutputError,
)
from xai_eval.explain.layers import ResolvedLayer, probe_last_spatial_layer, resolve_layer, to_grid
from xai_eval.explain.postprocess import degenerate_mask, reduce_channels, upsample
from xai_eval.explain.state import ModelStateGuard
from xai_eval.explain.targets import SelectedScores, TargetSpec, select_scores


@dataclass
class Explanation:
    """Everything one call computed, on the input's device.

    ``maps`` are non-negative (B, K, H, W) float32 at the input's resolution; ``raw`` is the
    method's attribution before upsampling/reduction, (B, K, c, h, w); ``degenerate`` flags
    constant maps (they rank no pixel; they are zeros, never NaN).
    """

    maps: torch.Tensor
    raw: torch.Tensor
    scores: torch.Tensor
    class_ids: torch.Tensor | None
    degenerate: torch.Tensor
    method: str
    layer: str | None
    squeeze: bool

    def maps_as_requested(self) -> torch.Tensor:
        """(B, H, W) when one target per image was asked for, else (B, K, H, W)."""
        return self.maps[:, 0] if self.squeeze else self.maps

    def raw_as_requested(self) -> torch.Tensor:
        """(B, c, h, w) when one target per image was asked for, else (B, K, c, h, w)."""
        return self.raw[:, 0] if self.squeeze else self.raw


def expected_channels(model: nn.Module) -> int | None:
    """Input channels of the model's first convolution, if it has one."""
    for module in model.modules():
        if isinstance(module, nn.Conv2d):
            return module.in_channels
    return None


def validate_images(images: Any, channels: int | None) -> torch.Tensor:
    """Check images are a finite float (B, C, H, W) tensor; return it detached."""
    if not isinstance(images, torch.Tensor):
        raise InputTypeError(
            f"images must be a torch.Tensor of shape (B, 3, H, W), not {type(images).__name__}; "
            "convert with torchvision.transforms.functional.to_tensor and normalise"
        )
    if not images.is_floating_point():
        raise InputTypeError(
            f"images have dtype {images.dtype}; explainers need floating-point input in the "
            "model's normalisation, e.g. weights.transforms()(img) or images.float() / 255 "
            "followed by the model's mean/std"
        )
    if images.dim() != 4:
        hint = " (add the batch axis with images.unsqueeze(0))" if images.dim() == 3 else ""
        raise InputValidationError(
            f"images must have shape (B, C, H, W); got {tuple(images.shape)}{hint}"
        )
    if channels is not None and images.shape[1] != channels:
        raise InputValidationError(
            f"images have {images.shape[1]} channels but the model's first convolution expects "
            f"{channels}; images must be (B, {channels}, H, W)"
            + (" — channels-last input? use images.permute(0, 3, 1, 2)" if images.shape[-1] == channels else "")
        )
    if images.shape[0] == 0:
        raise InputValidationError("images is an empty batch")
    if not bool(torch.isfinite(images).all()):
        raise InputValidationError("images contain NaN or Inf; check the decoding/normalisation")
    if images.is_inference():
        # Made under torch.inference_mode(): autograd cannot record it; a normal copy can.
        return images.clone()
    return images.detach()


class Explainer:
    """Base class of every explainer. Subclasses set ``name`` and implement :meth:`_raw`.

    Options are declared in ``options`` (name -> default); passing an unknown one is an
    error, so a typo never silently falls back to a default.
    """

    name: ClassVar[str] = ""
    options: ClassVar[dict[str, Any]] = {}
    #: False for methods that only read activations and weights (CAM)
    needs_autograd: ClassVar[bool] = True
    #: how ``(B, K, C, H, W)`` input-space attributions are reduced to maps
    reduction: ClassVar[str] = "max_abs"
    #: the method's paper (authors, year, link) and the independent oracle its tests compare
    #: against; ``xai-eval plugins -v`` lists both
    paper: ClassVar[str] = ""
    oracle: ClassVar[str] = ""

    def __init__(self, model: nn.Module, target_layer: str | nn.Module | None = None,
                 *, eval_mode: bool = True, **options: Any) -> None:
        if not isinstance(model, nn.Module):
            raise InputTypeError(f"model must be a torch.nn.Module, not {type(model).__name__}")
        unknown = sorted(set(options) - set(self.options))
        if unknown:
            raise InputValidationError(
                f"{self.name} has no option(s) {unknown}; its options are "
                f"{sorted(self.options) or 'none'}"
            )
        self.model = model
        self.eval_mode = eval_mode
        self.config: dict[str, Any] = {**self.options, **options}
        self._channels = expected_channels(model)
        self._init_layer(target_layer)

    def _init_layer(self, target_layer: str | nn.Module | None) -> None:
        """Input-space methods have no target layer; the argument is accepted and ignored."""
        self.layer: ResolvedLayer | None = None

    # --- public API -------------------------------------------------------------------
    def explain(self, images: torch.Tensor, targets: TargetSpec = None) -> Explanation:
        """Compute maps for ``targets`` (see :mod:`xai_eval.explain.targets`) on ``images``."""
        if self.needs_autograd and torch.is_inference_mode_enabled():
            raise InputValidationError(
                f"{self.name} needs autograd, which torch.inference_mode() switches off for "
                "good; call the explainer outside the inference_mode block (torch.no_grad() "
                "around it is fine)"
            )
        images = validate_images(images, self._channels)
        with ModelStateGuard(self.model, eval_mode=self.eval_mode):
            raw, selected = self._raw(images, targets)
        raw = raw.detach()
        if not bool(torch.isfinite(raw).all()):
            raise ModelOutputError(
                f"{self.name} produced NaN/Inf attributions; the model's activations or "
                "gradients are not finite for this input"
            )
        maps = self._maps_from_raw(raw, tuple(images.shape[-2:])).float()
        degenerate = degenerate_mask(maps)
        maps = torch.where(degenerate[..., None, None], torch.zeros_like(maps), maps)
        return Explanation(
            maps=maps,
            raw=raw,
            scores=selected.scores.detach(),
            class_ids=selected.class_ids,
            degenerate=degenerate,
            method=self.name,
            layer=self.layer.name if self.layer else None,
            squeeze=selected.squeeze,
        )

    def __call__(self, images: torch.Tensor, targets: TargetSpec = None) -> torch.Tensor:
        """Non-negative saliency maps: (B, H, W), or (B, K, H, W) for (B, K) targets."""
        return self.explain(images, targets).maps_as_requested()

    def attribute(self, images: torch.Tensor, targets: TargetSpec = None) -> torch.Tensor:
        """The raw attribution before upsampling/reduction: (B, c, h, w) or (B, K, c, h, w)."""
        return self.explain(images, targets).raw_as_requested()

    # --- for subclasses --------------------------------------------------------------
    def _raw(self, images: torch.Tensor, targets: TargetSpec) -> tuple[torch.Tensor, SelectedScores]:
        """Return the raw (B, K, c, h, w) attribution and the selected scores."""
        raise NotImplementedError

    def _maps_from_raw(self, raw: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
        """(B, K, c, h, w) -> non-negative (B, K, H, W)."""
        if raw.shape[2] == 1:
            return upsample(raw[:, :, 0].clamp(min=0), size)
        return upsample(reduce_channels(raw, self.reduction), size)

    def __repr__(self) -> str:
        layer = f", layer={self.layer.name!r}" if self.layer else ""
        return f"{type(self).__name__}(name={self.name!r}{layer}, options={self.config})"


def backward_per_target(scores: torch.Tensor, wrt: torch.Tensor) -> torch.Tensor:
    """Gradients of each of the K score columns with respect to ``wrt``: (K, *wrt.shape).

    Images in a batch are independent in eval mode, so summing a column over the batch gives
    every image its own gradient in one backward pass per target.
    """
    k_total = scores.shape[1]
    grads = []
    for k in range(k_total):
        (grad,) = torch.autograd.grad(scores[:, k].sum(), wrt, retain_graph=k < k_total - 1,
                                      allow_unused=True)
        grads.append(torch.zeros_like(wrt) if grad is None else grad)
    return torch.stack(grads)


class LayerExplainer(Explainer):
    """Base for methods that explain a layer's feature maps (CAM family)."""

    options: ClassVar[dict[str, Any]] = {"reshape": None}

    def _init_layer(self, target_layer: str | nn.Module | None) -> None:
        self.layer = resolve_layer(self.model, target_layer)

    def _ensure_layer(self, images: torch.Tensor) -> ResolvedLayer:
        if self.layer is None:
            with ModelStateGuard(self.model, eval_mode=self.eval_mode):
                self.layer = probe_last_spatial_layer(self.model, images)
        return self.layer

    def forward_capture(self, images: torch.Tensor, need_grad: bool = True
                        ) -> tuple[Any, torch.Tensor, torch.Tensor]:
        """One forward pass returning (model output, raw layer output, its (B,C,h,w) grid).

        Layers before the target run under ``no_grad``; the hook re-enables autograd from
        the target layer on, so the backward pass stops there and costs almost nothing.
        """
        layer = self._ensure_layer(images)
        captured: list[torch.Tensor] = []
        calls = [0]

        def hook(_module: nn.Module, _inputs: object, output: Any) -> Any:
            call, calls[0] = calls[0], calls[0] + 1
            if layer.call is not None and call != layer.call:
                return output  # another call of a reused module: not the one explained
            if not isinstance(output, torch.Tensor):
                raise LayerResolutionError(
                    f"target layer {layer.name!r} returns {type(output).__name__}, not a tensor; "
                    "choose a layer (or a submodule) that outputs feature maps"
                )
            if captured:
                raise LayerResolutionError(
                    f"target layer {layer.name!r} ran more than once in one forward pass (a reused "
                    "module); its maps are ambiguous — choose a layer that runs once, or pass "
                    "target_layer=None: the automatic choice takes a reused last layer's last call"
                )
            if not need_grad:
                captured.append(output)
                return output
            torch.set_grad_enabled(True)  # undone when the surrounding no_grad exits
            leaf = output.detach().requires_grad_(True)
            captured.append(leaf)
            # The model continues on a copy: a later in-place op (DenseNet's
            # F.relu(features, inplace=True)) must neither fail on the leaf nor change A^k.
            return leaf.clone()

        handle = layer.module.register_forward_hook(hook)
        try:
            with torch.no_grad():
                output = self.model(images)
                if not captured:
                    raise LayerResolutionError(
                        f"target layer {layer.name!r} did not run during the forward pass; "
                        "choose a layer on the path from input to output"
                    )
                if need_grad and isinstance(output, torch.Tensor) and not output.requires_grad:
                    raise LayerResolutionError(
                        f"the model's output does not depend on target layer {layer.name!r}"
                    )
                activation = captured[0]
                grid = to_grid(activation, layer.layout, self.config.get("reshape"))
                return output, activation, grid
        finally:
            handle.remove()

    def gradients(self, scores: torch.Tensor, activation: torch.Tensor, layout: str
                  ) -> torch.Tensor:
        """(B, K, C, h, w) gradients of each score column with respect to the layer's grid."""
        with torch.enable_grad():
            grads = backward_per_target(scores, activation)  # (K, *activation.shape)
        grids = torch.stack([to_grid(g, layout, self.config.get("reshape")) for g in grads])
        return grids.transpose(0, 1)


class InputGradientExplainer(Explainer):
    """Base for methods that back-propagate scores to the input pixels."""

    def _relu_context(self) -> Any:
        """A context manager that changes the ReLU backward rule; none for plain gradients."""
        from contextlib import nullcontext

        return nullcontext()

    def _raw(self, images: torch.Tensor, targets: TargetSpec) -> tuple[torch.Tensor, SelectedScores]:
        x = images.detach().requires_grad_(True)  # a new alias: the caller's tensor is untouched
        with torch.enable_grad():
            with self._relu_context():
                output = self.model(x)
            selected = select_scores(output, targets, images.shape[0])
            grads = backward_per_target(selected.scores, x)  # (K, B, C, H, W)
        return grads.transpose(0, 1), selected


def warn_once(message: str, category: type[Warning] = UserWarning) -> None:
    """Warn with a stable stack level (shared helper for plugins)."""
    warnings.warn(message, category, stacklevel=3)


ScoreFn = Callable[[Any], torch.Tensor]
