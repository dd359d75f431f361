"""Eigen-CAM (Muhammad & Yeasin 2020): the layer's maps projected on their first principal component."""

from __future__ import annotations

from typing import Any, ClassVar

import torch

from xai_eval.explain.base import LayerExplainer
from xai_eval.explain.targets import SelectedScores, TargetSpec, select_scores


def first_component_projection(grid: torch.Tensor) -> torch.Tensor:
    """(B, C, h, w) -> (B, h, w): centred pixels-by-channels matrix times its first right singular vector.

    The SVD's sign is arbitrary; it is fixed so that the projection correlates positively
    with the channel-summed activation (a map of "where the layer fires"), so the result
    is deterministic and does not flip between runs or devices.
    """
    batch, channels, height, width = grid.shape
    flat = grid.reshape(batch, channels, height * width).transpose(1, 2).double()  # (B, hw, C)
    centred = flat - flat.mean(dim=1, keepdim=True)
    _u, _s, vh = torch.linalg.svd(centred, full_matrices=False)
    projection = centred @ vh[:, 0, :, None]  # (B, hw, 1)
    energy = flat.sum(dim=2, keepdim=True)
    energy = energy - energy.mean(dim=1, keepdim=True)
    sign = torch.where((projection * energy).sum(dim=1, keepdim=True) < 0, -1.0, 1.0)
    return (projection * sign).reshape(batch, height, width).to(grid.dtype)


class EigenCAM(LayerExplainer):
    """Eigen-CAM (Muhammad & Yeasin 2020): ReLU of the projection on the first principal component.

    Paper: https://arxiv.org/abs/2008.00299. Class-agnostic: every target of an image gets
    the same map (the scores are still the targets'). Pixels are centred before the SVD,
    as pytorch-grad-cam does (its oracle test compares up to the SVD's sign, which it leaves
    arbitrary; we fix it, see :func:`first_component_projection`). No gradients.
    """

    name: ClassVar[str] = "eigencam"
    paper: ClassVar[str] = "Muhammad & Yeasin 2020, arXiv:2008.00299"
    oracle: ClassVar[str] = "pytorch-grad-cam get_2d_projection up to its arbitrary sign"
    options: ClassVar[dict[str, Any]] = {"reshape": None}
    needs_autograd: ClassVar[bool] = False

    def _raw(self, images: torch.Tensor, targets: TargetSpec) -> tuple[torch.Tensor, SelectedScores]:
        output, _activation, grid = self.forward_capture(images, need_grad=False)
        selected = select_scores(output, targets, images.shape[0])
        projection = first_component_projection(grid.detach())  # (B, h, w)
        k = selected.scores.shape[1]
        cam = projection[:, None, None].expand(-1, k, 1, -1, -1).clone()
        return cam.clamp(min=0), selected
