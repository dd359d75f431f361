"""The shared plumbing of the gradient-weighted CAM variants (Grad-CAM++, XGrad-CAM, ...).

Each variant differs from Grad-CAM only in how it combines the layer's activations ``A``
(B, 1, C, h, w) with the gradients ``g = dy^c/dA`` (B, K, C, h, w): one forward pass that
keeps autograd from the target layer on, one backward per target to that layer (the
Grad-CAM floor), then a few elementwise operations. The map is rectified, as in every
one of these papers.
"""

from __future__ import annotations

from typing import Any, ClassVar

import torch

from xai_eval.errors import InputValidationError
from xai_eval.explain.base import LayerExplainer
from xai_eval.explain.targets import SelectedScores, TargetSpec, select_scores


def check_eps(value: Any, method: str) -> float:
    """A non-negative finite number: the regulariser some peers add to a denominator."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value < float("inf"):
        raise InputValidationError(f"{method} eps must be a non-negative number, not {value!r}")
    return float(value)


def safe_divide(numerator: torch.Tensor, denominator: torch.Tensor, eps: float) -> torch.Tensor:
    """``numerator / (denominator + eps)``; 0 where that denominator is exactly 0."""
    denominator = denominator + eps
    zero = denominator == 0
    return torch.where(zero, torch.zeros_like(numerator),
                       numerator / torch.where(zero, torch.ones_like(denominator), denominator))


class GradientCAM(LayerExplainer):
    """Base: subclasses implement :meth:`combine` -> the (B, K, 1, h, w) signed map."""

    options: ClassVar[dict[str, Any]] = {"reshape": None}

    def combine(self, activation: torch.Tensor, grads: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def _raw(self, images: torch.Tensor, targets: TargetSpec) -> tuple[torch.Tensor, SelectedScores]:
        with torch.enable_grad():
            output, activation, grid = self.forward_capture(images)
            selected = select_scores(output, targets, images.shape[0])
        assert self.layer is not None
        grads = self.gradients(selected.scores, activation, self.layer.layout)  # (B,K,C,h,w)
        cam = self.combine(grid.detach().unsqueeze(1), grads)
        return cam.clamp(min=0), selected
