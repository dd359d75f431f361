"""XGrad-CAM (Fu et al. 2020): gradients weighted by the normalised activation."""

from __future__ import annotations

from typing import Any, ClassVar

import torch

from xai_eval_cam._gradient_cam import GradientCAM, check_eps, safe_divide


class XGradCAM(GradientCAM):
    """XGrad-CAM (Fu et al. 2020): w_k = sum_ij (A_ij / sum_ab A_ab) g_ij, eq. 12.

    Paper: https://arxiv.org/abs/2008.02312. A channel whose activations sum to 0 gets
    weight 0. ``eps`` (default 0) is added to the sum: pytorch-grad-cam uses 1e-7, torchcam
    1e-8 (tested against both with their values).
    """

    name: ClassVar[str] = "xgradcam"
    paper: ClassVar[str] = "Fu et al. 2020, arXiv:2008.02312"
    oracle: ClassVar[str] = "pytorch-grad-cam XGradCAM, torchcam XGradCAM (1e-5)"
    options: ClassVar[dict[str, Any]] = {"reshape": None, "eps": 0.0}

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.eps = check_eps(self.config["eps"], self.name)

    def combine(self, activation: torch.Tensor, grads: torch.Tensor) -> torch.Tensor:
        total = activation.sum(dim=(-2, -1), keepdim=True)
        weights = safe_divide((grads * activation).sum(dim=(-2, -1), keepdim=True), total, self.eps)
        return (weights * activation).sum(dim=2, keepdim=True)
