"""Grad-CAM (Selvaraju et al. 2017): channel weights from the mean gradient at the layer."""

from __future__ import annotations

from typing import Any, ClassVar

import torch

from xai_eval.explain.base import LayerExplainer
from xai_eval.explain.targets import SelectedScores, TargetSpec, select_scores


class GradCAM(LayerExplainer):
    """Grad-CAM (Selvaraju et al. 2017): ReLU(sum_k alpha_k A^k), alpha_k = mean of dy^c/dA^k.

    Paper: https://arxiv.org/abs/1610.02391, eq. 1-2. ``counterfactual=True`` negates the
    gradients (paper §3.1, "counterfactual explanations"): regions that would lower the
    score. ``attribute`` returns the rectified (B, 1, h, w) map at the target layer.

    Example::

        explainer = xai_eval.get_explainer("gradcam", resnet, target_layer="layer4")
        maps = explainer(images, targets=torch.tensor([[207, 281]]))  # (1, 2, H, W)
    """

    name: ClassVar[str] = "gradcam"
    paper: ClassVar[str] = "Selvaraju et al. 2017, arXiv:1610.02391"
    oracle: ClassVar[str] = "Captum LayerGradCam; pytorch-grad-cam GradCAM (1e-5)"
    options: ClassVar[dict[str, Any]] = {"reshape": None, "counterfactual": False}

    def _raw(self, images: torch.Tensor, targets: TargetSpec) -> tuple[torch.Tensor, SelectedScores]:
        with torch.enable_grad():
            output, activation, grid = self.forward_capture(images)
            selected = select_scores(output, targets, images.shape[0])
        assert self.layer is not None
        grads = self.gradients(selected.scores, activation, self.layer.layout)  # (B,K,C,h,w)
        if self.config["counterfactual"]:
            grads = -grads
        weights = grads.mean(dim=(-2, -1), keepdim=True)  # alpha_k^c, (B, K, C, 1, 1)
        cam = (weights * grid.detach().unsqueeze(1)).sum(dim=2, keepdim=True)
        return cam.clamp(min=0), selected
