"""Occlusion (Zeiler & Fergus 2014): how much the class score drops when a patch is hidden.

The explainer is a thin layer over :mod:`xai_eval.explain.occlusion` (the math, shared with
the occlusion-correlation metric): it declares the options, validates them at construction
and reports the signed map; the saliency map is its positive part (regions whose removal
lowers the score).
"""

from __future__ import annotations

from typing import Any, ClassVar

import torch

from xai_eval.explain.base import Explainer
from xai_eval.explain.occlusion import (
    check_occlusion_options,
    occlusion_attribution,
    occlusion_geometry,
)
from xai_eval.explain.targets import SelectedScores, TargetSpec

__all__ = ["Occlusion"]


class Occlusion(Explainer):
    """Occlusion sensitivity (Zeiler & Fergus 2014): mean score drop over the patches covering a pixel.

    Paper: https://arxiv.org/abs/1311.2901, §4.2. The Grad-CAM paper (§5.3) rank-correlates
    maps with it. Options (the papers fix none of them; each is recorded):

    - ``patch_size``: int pixels, ``(h, w)``, or a float fraction of the shorter image side
      (default 0.125: 28 px at 224);
    - ``stride``: int pixels, ``(h, w)``, or a float fraction of the patch (default 0.5);
      it may not exceed the patch, or some pixels would never be occluded;
    - ``fill``: the value patches are filled with, in the model's input space (default 0.0,
      the dataset mean after the usual normalisation), or ``"mean"`` for each image's own
      per-channel mean;
    - ``score``: ``"logit"`` (default) or ``"prob"`` (softmax probability of the class);
    - ``batch_size``: occluded images per forward pass (default 64); results do not depend
      on it;
    - ``progress``: show a progress bar.

    Cost: one forward pass per (image, window) for all K targets together.
    """

    name: ClassVar[str] = "occlusion"
    paper: ClassVar[str] = "Zeiler & Fergus 2014, arXiv:1311.2901"
    oracle: ClassVar[str] = "Captum Occlusion; closed form on linear models"
    options: ClassVar[dict[str, Any]] = {
        "patch_size": 0.125, "stride": 0.5, "fill": 0.0, "score": "logit",
        "batch_size": 64, "progress": False,
    }
    reduction: ClassVar[str] = "sum_relu"
    #: forward passes only, so it also runs inside torch.inference_mode()
    needs_autograd: ClassVar[bool] = False

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        cfg = self.config
        check_occlusion_options(cfg["score"], cfg["fill"], cfg["batch_size"])
        self.geometry(1 << 20, 1 << 20)  # type and range errors now, not at the first call

    def geometry(self, height: int, width: int) -> tuple[tuple[int, int], tuple[int, int]]:
        """((patch_h, patch_w), (stride_h, stride_w)) in pixels for an image of this size."""
        return occlusion_geometry(self.config["patch_size"], self.config["stride"], height, width)

    def _raw(self, images: torch.Tensor, targets: TargetSpec) -> tuple[torch.Tensor, SelectedScores]:
        cfg = self.config
        return occlusion_attribution(
            self.model, images, targets, patch_size=cfg["patch_size"], stride=cfg["stride"],
            fill=cfg["fill"], score=cfg["score"], batch_size=cfg["batch_size"],
            progress=cfg["progress"])
