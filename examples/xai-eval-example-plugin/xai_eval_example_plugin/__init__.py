"""Example third-party plugin: the Input x Gradient explainer.

It shows the whole surface a plugin author needs: subclass one of xai-eval's explainer base
classes, give the class a unique ``name`` and a one-line docstring summary, and return it
from the ``xai_eval_register_explainers`` hook. The base class does the rest (input
validation, target selection, restoring the model's state, upsampling, degenerate maps).
"""

from __future__ import annotations

from typing import Any, ClassVar

import torch

from xai_eval import hookimpl
from xai_eval.explain.base import InputGradientExplainer
from xai_eval.explain.targets import SelectedScores, TargetSpec

__version__ = "0.1.0"


class InputXGradient(InputGradientExplainer):
    """Input x Gradient (Shrikumar et al. 2016): x * dy^c/dx, summed |.| over colour channels.

    Paper: https://arxiv.org/abs/1605.01713. For a linear model y = W x + b the attribution
    of pixel i is exactly x_i * W[c, i] — the term pixel i contributes to the score —
    which is why it is a popular first step beyond plain gradients. ``attribute`` returns
    the signed (B, 3, H, W) product; the map is its absolute value summed over channels.
    """

    name: ClassVar[str] = "example_input_x_gradient"
    options: ClassVar[dict[str, Any]] = {}
    reduction: ClassVar[str] = "sum_abs"

    def _raw(self, images: torch.Tensor, targets: TargetSpec) -> tuple[torch.Tensor, SelectedScores]:
        grads, selected = super()._raw(images, targets)  # (B, K, C, H, W) gradients
        return grads * images.unsqueeze(1), selected


@hookimpl
def xai_eval_register_explainers() -> list[type]:
    return [InputXGradient]
