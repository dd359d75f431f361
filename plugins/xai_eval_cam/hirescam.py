"""HiResCAM (Draelos & Carin 2020): gradients times activations, element by element."""

from __future__ import annotations

from typing import Any, ClassVar

import torch

from xai_eval_cam._gradient_cam import GradientCAM


class HiResCAM(GradientCAM):
    """HiResCAM (Draelos & Carin 2020): M = ReLU(sum_k g^k * A^k), no spatial averaging.

    Paper: https://arxiv.org/abs/2011.08891. Unlike Grad-CAM it keeps each location's own
    gradient, so on a network whose score is linear in the layer's maps the map sums to
    the score's part explained by that layer (tested).
    """

    name: ClassVar[str] = "hirescam"
    paper: ClassVar[str] = "Draelos & Carin 2020, arXiv:2011.08891"
    oracle: ClassVar[str] = "pytorch-grad-cam HiResCAM (1e-5); sum = score on linear heads"
    options: ClassVar[dict[str, Any]] = {"reshape": None}

    def combine(self, activation: torch.Tensor, grads: torch.Tensor) -> torch.Tensor:
        return (grads * activation).sum(dim=2, keepdim=True)
