"""Grad-CAM++ (Chattopadhyay et al. 2018): pixel-weighted positive gradients."""

from __future__ import annotations

from typing import Any, ClassVar

import torch

from xai_eval_cam._gradient_cam import GradientCAM, check_eps, safe_divide


class GradCAMPlusPlus(GradientCAM):
    """Grad-CAM++ (Chattopadhyay et al. 2018): w_k = sum_ij alpha_ij ReLU(g_ij), eq. 19.

    Paper: https://arxiv.org/abs/1710.11063. With the paper's exponential of the score the
    higher derivatives reduce to powers of ``g = dy^c/dA^k``:
    ``alpha_ij = g_ij^2 / (2 g_ij^2 + sum_ab A_ab g_ij^3)`` (0 where that is 0/0). The
    common factor ``exp(y^c)`` of eq. 19 is left out, as both peers do: it scales a class's
    map, not its shape. ``eps`` (default 0) is added to the denominator: pytorch-grad-cam
    uses 1e-6 (tested against it with that value). torchcam 0.5.0 departs from the paper
    (its in-place division acts on a copy, so its alpha is ``g^2``; tested and documented).
    """

    name: ClassVar[str] = "gradcam_pp"
    paper: ClassVar[str] = "Chattopadhyay et al. 2018, arXiv:1710.11063"
    oracle: ClassVar[str] = "pytorch-grad-cam GradCAMPlusPlus (eps=1e-6, 1e-5); torchcam departs (tested)"
    options: ClassVar[dict[str, Any]] = {"reshape": None, "eps": 0.0}

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.eps = check_eps(self.config["eps"], self.name)

    def combine(self, activation: torch.Tensor, grads: torch.Tensor) -> torch.Tensor:
        g2 = grads.pow(2)
        total = activation.sum(dim=(-2, -1), keepdim=True)  # sum_ab A_ab per channel
        alpha = safe_divide(g2, 2 * g2 + total * g2 * grads, self.eps)
        alpha = torch.where(grads != 0, alpha, torch.zeros_like(alpha))
        weights = (alpha * grads.clamp(min=0)).sum(dim=(-2, -1), keepdim=True)
        return (weights * activation).sum(dim=2, keepdim=True)
