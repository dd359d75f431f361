"""SmoothGrad and its squared and variance variants: gradients over noisy copies of the image."""

from __future__ import annotations

import math
from typing import Any, ClassVar

import torch

from xai_eval.errors import InputValidationError
from xai_eval.explain.base import InputGradientExplainer
from xai_eval.explain.targets import SelectedScores, TargetSpec
from xai_eval_gradients._sampled import check_int, clean_selection, gradients_of_copies


class SmoothGrad(InputGradientExplainer):
    """SmoothGrad (Smilkov et al. 2017): the mean gradient over Gaussian-noised copies.

    Paper: https://arxiv.org/abs/1706.03825, eq. 3. ``n_samples`` copies (default 50, the
    paper's plateau), noise ``N(0, sigma^2)`` with ``sigma = noise_level * (max(x) - min(x))``
    per image (default 0.15, the paper's 10-20%). The noise comes from ``seed`` (default 0),
    drawn on the CPU, so a call is reproducible on any device; sample i uses the same unit
    pattern for every image of a batch (scaled by its sigma), so an image's map does not
    depend on its batch. Copies
    of all images go through the model ``batch_size`` at a time. ``attribute`` returns
    the (B, 3, H, W) statistic; the map is its max |.| over channels (Simonyan's rule).
    """

    name: ClassVar[str] = "smoothgrad"
    paper: ClassVar[str] = "Smilkov et al. 2017, arXiv:1706.03825"
    oracle: ClassVar[str] = "closed form on a quadratic model with the same noise; Captum NoiseTunnel"
    options: ClassVar[dict[str, Any]] = {"n_samples": 50, "noise_level": 0.15, "seed": 0,
                                         "batch_size": 64, "progress": False}
    #: mean (SmoothGrad), mean of squares (SmoothGrad-squared) or variance (VarGrad)
    statistic: ClassVar[str] = "mean"

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        cfg = self.config
        check_int(cfg["n_samples"], f"{self.name} n_samples")
        check_int(cfg["batch_size"], f"{self.name} batch_size")
        level = cfg["noise_level"]
        if isinstance(level, bool) or not isinstance(level, (int, float)) or \
                not (math.isfinite(level) and level >= 0):
            raise InputValidationError(
                f"{self.name} noise_level must be a non-negative number, not {level!r}")
        if isinstance(cfg["seed"], bool) or not isinstance(cfg["seed"], int):
            raise InputValidationError(f"{self.name} seed must be an int, not {cfg['seed']!r}")

    def noise(self, images: torch.Tensor) -> torch.Tensor:
        """(n_samples, B, C, H, W) noise this explainer adds to ``images``."""
        cfg = self.config
        gen = torch.Generator().manual_seed(cfg["seed"])
        # one unit-noise pattern per sample, shared by every image of the batch (scaled by
        # each image's sigma), so an image's map does not depend on what it is batched with
        unit = torch.randn((cfg["n_samples"], 1, *images.shape[1:]), generator=gen,
                           dtype=torch.float64)
        span = images.detach().flatten(1)
        sigma = cfg["noise_level"] * (span.amax(1) - span.amin(1))  # (B,)
        return (unit.to(images.device) * sigma.double()[None, :, None, None, None]).to(images.dtype)

    def _raw(self, images: torch.Tensor, targets: TargetSpec) -> tuple[torch.Tensor, SelectedScores]:
        cfg = self.config
        selected, per_image = clean_selection(self.model, images, targets)
        batch, n = images.shape[0], cfg["n_samples"]
        noise = self.noise(images).transpose(0, 1).reshape(batch * n, *images.shape[1:])
        k = selected.scores.shape[1]
        total = images.new_zeros(k, batch, *images.shape[1:])
        squares = images.new_zeros(k, batch, *images.shape[1:])

        def build(start: int, stop: int) -> tuple[torch.Tensor, torch.Tensor]:
            img_idx = torch.arange(start, stop, device=images.device) // n
            return images[img_idx] + noise[start:stop], img_idx

        def sink(grads: torch.Tensor, img_idx: torch.Tensor, _start: int, _stop: int) -> None:
            total.index_add_(1, img_idx, grads)
            if self.statistic != "mean":
                squares.index_add_(1, img_idx, grads * grads)

        gradients_of_copies(self.model, build, batch * n, per_image, sink,
                            batch_size=cfg["batch_size"], progress=cfg["progress"], desc=self.name)
        mean = total / n
        if self.statistic == "mean":
            out = mean
        elif self.statistic == "mean_square":
            out = squares / n
        else:  # population variance, as Adebayo et al. and Captum's NoiseTunnel
            out = (squares / n - mean * mean).clamp(min=0)
        return out.transpose(0, 1), selected


class SmoothGradSquared(SmoothGrad):
    """SmoothGrad-squared (Hooker et al. 2019): the mean of squared gradients over noisy copies.

    Paper: https://arxiv.org/abs/1806.10758 (ROAR, where it and VarGrad beat a random
    ranking). Same noise and options as ``smoothgrad``.
    """

    name: ClassVar[str] = "smoothgrad_sq"
    paper: ClassVar[str] = "Hooker et al. 2019 (ROAR), arXiv:1806.10758"
    statistic: ClassVar[str] = "mean_square"


class VarGrad(SmoothGrad):
    """VarGrad (Adebayo et al. 2018): the variance of gradients over noisy copies.

    Paper: https://arxiv.org/abs/1810.03307 (population variance, 1/N). Same noise and
    options as ``smoothgrad``.
    """

    name: ClassVar[str] = "vargrad"
    paper: ClassVar[str] = "Adebayo et al. 2018, arXiv:1810.03307"
    statistic: ClassVar[str] = "variance"
