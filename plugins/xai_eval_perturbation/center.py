"""The centre baseline: a fixed Gaussian at the image centre, whatever the model or class.

TorchRay's pointing-game table reports it ("center") as the floor any attribution method
must beat: objects in photographs tend to sit near the middle, so a method that does no
better than this map has not shown it looks at the object. It lives with the perturbation
methods only because it too needs no gradients; it reads nothing of the model.
"""

from __future__ import annotations

import math
from typing import Any, ClassVar

import torch

from xai_eval.errors import InputValidationError
from xai_eval.explain.base import Explainer
from xai_eval.explain.targets import SelectedScores, TargetSpec, select_scores

CENTERS = ("pixel", "geometric")


def center_gaussian(height: int, width: int, sigma: float, center: str = "pixel", *,
                    dtype: torch.dtype = torch.float32,
                    device: torch.device | str | None = None) -> torch.Tensor:
    """(H, W) isotropic Gaussian with peak 1: ``exp(-d^2 / (2 s^2))``, ``s = sigma * min(H, W)``.

    ``center="pixel"`` puts the peak on pixel ``(H // 2, W // 2)`` — a unique maximum, and
    TorchRay's centre point ``(w / 2, h / 2)`` for even sizes; ``"geometric"`` puts it at
    ``((H - 1) / 2, (W - 1) / 2)``, symmetric but tied over 2 or 4 pixels for even sizes.
    """
    if center not in CENTERS:
        raise InputValidationError(f"center must be one of {CENTERS}, not {center!r}")
    if isinstance(sigma, bool) or not isinstance(sigma, (int, float)) or not (
        math.isfinite(sigma) and sigma > 0
    ):
        raise InputValidationError(
            f"sigma must be a positive finite fraction of the image side, not {sigma!r}"
        )
    if center == "pixel":
        cy, cx = float(height // 2), float(width // 2)
    else:
        cy, cx = (height - 1) / 2, (width - 1) / 2
    spread = sigma * min(height, width)
    ys = torch.arange(height, dtype=torch.float64, device=device) - cy
    xs = torch.arange(width, dtype=torch.float64, device=device) - cx
    dist2 = ys[:, None] ** 2 + xs[None, :] ** 2
    return torch.exp(-dist2 / (2 * spread**2)).to(dtype)


class CenterBaseline(Explainer):
    """Centre baseline (TorchRay's "center"): a fixed Gaussian at the image centre, model-free.

    ``map(y, x) = exp(-((y - cy)^2 + (x - cx)^2) / (2 s^2))`` with ``s = sigma * min(H, W)``
    (option ``sigma``, default 0.25) and the peak (value 1) on pixel ``(H // 2, W // 2)``
    (option ``center="pixel"``; ``"geometric"`` uses ``((H-1)/2, (W-1)/2)``). The map is the
    same for every image, class and model. The model still runs once, without gradients, so
    ``targets`` are validated and the explained scores are reported like any explainer's.
    """

    name: ClassVar[str] = "center"
    paper: ClassVar[str] = "TorchRay's 'center' baseline (Fong & Vedaldi 2019 pointing-game table)"
    oracle: ClassVar[str] = "closed-form Gaussian"
    options: ClassVar[dict[str, Any]] = {"sigma": 0.25, "center": "pixel"}
    #: one forward pass for the scores, no gradients: also runs inside torch.inference_mode()
    needs_autograd: ClassVar[bool] = False

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        center_gaussian(1, 1, self.config["sigma"], self.config["center"])  # validate early

    def _raw(self, images: torch.Tensor, targets: TargetSpec) -> tuple[torch.Tensor, SelectedScores]:
        with torch.no_grad():
            selected = select_scores(self.model(images), targets, images.shape[0])
        batch, _c, height, width = images.shape
        gaussian = center_gaussian(height, width, self.config["sigma"], self.config["center"],
                                   dtype=images.dtype, device=images.device)
        raw = gaussian.expand(batch, selected.scores.shape[1], 1, height, width).clone()
        return raw, selected
