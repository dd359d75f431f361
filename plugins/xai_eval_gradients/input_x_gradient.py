"""Input x Gradient (Shrikumar et al. 2016): each pixel's gradient times its value."""

from __future__ import annotations

from typing import Any, ClassVar

import torch

from xai_eval.explain.base import InputGradientExplainer
from xai_eval.explain.targets import SelectedScores, TargetSpec


class InputXGradient(InputGradientExplainer):
    """Input x Gradient (Shrikumar et al. 2016): x * dy^c/dx, |.| summed over colour channels.

    Paper: https://arxiv.org/abs/1605.01713. For a linear model the attribution of pixel i
    is exactly its term x_i W[c, i] of the score. One forward and K backward passes (the
    gradient floor). ``attribute`` returns the signed (B, 3, H, W) product.
    """

    name: ClassVar[str] = "input_x_gradient"
    paper: ClassVar[str] = "Shrikumar et al. 2016, arXiv:1605.01713"
    oracle: ClassVar[str] = "Captum InputXGradient (1e-9)"
    options: ClassVar[dict[str, Any]] = {}
    reduction: ClassVar[str] = "sum_abs"

    def _raw(self, images: torch.Tensor, targets: TargetSpec) -> tuple[torch.Tensor, SelectedScores]:
        grads, selected = super()._raw(images, targets)  # (B, K, C, H, W)
        return grads * images.unsqueeze(1), selected
