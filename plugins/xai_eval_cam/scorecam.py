"""Score-CAM (Wang et al. 2020): each channel weighted by the score of the input it masks."""

from __future__ import annotations

from typing import Any, ClassVar

import torch

from xai_eval.explain.base import LayerExplainer
from xai_eval.explain.postprocess import upsample
from xai_eval.explain.scoring import (
    check_positive_int,
    check_score,
    per_image_targets,
    refuse_prob_with_callable,
    score_rows,
)
from xai_eval.explain.targets import SelectedScores, TargetSpec, select_scores


def normalised_masks(grid: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    """(B, C, H, W) masks: each channel upsampled, then min-max scaled to [0, 1] (constant: 0)."""
    up = upsample(grid, size).to(grid.dtype)
    low = up.amin(dim=(-2, -1), keepdim=True)
    spread = up.amax(dim=(-2, -1), keepdim=True) - low
    safe = torch.where(spread > 0, spread, torch.ones_like(spread))
    return torch.where(spread > 0, (up - low) / safe, torch.zeros_like(up))


class ScoreCAM(LayerExplainer):
    """Score-CAM (Wang et al. 2020): ReLU(sum_k softmax_k(s^c(X * H^k)) A^k).

    Paper: https://arxiv.org/abs/1910.01279, Algorithm 1. ``H^k`` is channel k of the
    target layer upsampled to the input and min-max normalised (paper order: upsample,
    then normalise); the channel weights are the softmax over channels of the class
    score of each masked input (the paper's baseline ``f(X_b)`` cancels in the softmax).
    ``score``: ``"logit"`` (default; what pytorch-grad-cam and torchcam use) or ``"prob"``
    (the softmax probability, as the authors' released code scores). All B x C masked
    inputs go through the model ``batch_size`` at a time, each chunk scored for every
    image's K targets at once. Peers: pytorch-grad-cam upsamples with
    ``align_corners=True`` and torchcam normalises before upsampling, so they agree with
    this exactly when the layer has the input's size (tested) and differ by the
    interpolation otherwise. No gradients.
    """

    name: ClassVar[str] = "scorecam"
    paper: ClassVar[str] = "Wang et al. 2020, arXiv:1910.01279"
    oracle: ClassVar[str] = "pytorch-grad-cam ScoreCAM, torchcam ScoreCAM (1e-5); hand loop"
    options: ClassVar[dict[str, Any]] = {"reshape": None, "score": "logit", "batch_size": 64,
                                         "progress": False}
    needs_autograd: ClassVar[bool] = False

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        check_score(self.config["score"], self.name)
        check_positive_int(self.config["batch_size"], f"{self.name} batch_size")

    def _raw(self, images: torch.Tensor, targets: TargetSpec) -> tuple[torch.Tensor, SelectedScores]:
        refuse_prob_with_callable(self.config["score"], targets, self.name)
        with torch.no_grad():
            output, _activation, grid = self.forward_capture(images, need_grad=False)
            selected = select_scores(output, targets, images.shape[0])
            per_image = per_image_targets(selected.class_ids, targets)
            batch, channels = grid.shape[:2]
            masks = normalised_masks(grid, tuple(images.shape[-2:]))  # (B, C, H, W)
            flat_masks = masks.reshape(batch * channels, 1, *masks.shape[-2:])

            def build(start: int, stop: int) -> tuple[torch.Tensor, torch.Tensor]:
                img_idx = torch.arange(start, stop, device=images.device) // channels
                return images[img_idx] * flat_masks[start:stop].to(images.dtype), img_idx

            k = selected.scores.shape[1]
            scores = score_rows(self.model, build, batch * channels, per_image, k,
                                score=self.config["score"], batch_size=self.config["batch_size"],
                                progress=self.config["progress"], desc=self.name)
            weights = scores.reshape(batch, channels, k).transpose(1, 2).softmax(dim=-1)
            cam = torch.einsum("bkc,bchw->bkhw", weights.to(grid.dtype), grid)
        return cam.unsqueeze(2).clamp(min=0), selected
