"""Integrated Gradients (Sundararajan et al. 2017): gradients averaged along a straight path."""

from __future__ import annotations

import math
from typing import Any, ClassVar

import numpy as np
import torch

from xai_eval.errors import InputValidationError
from xai_eval.explain.base import InputGradientExplainer
from xai_eval.explain.targets import SelectedScores, TargetSpec
from xai_eval_gradients._sampled import check_int, clean_selection, gradients_of_copies

RULES = ("riemann_right", "riemann_left", "riemann_middle", "riemann_trapezoid", "gausslegendre")


def path_points(steps: int, rule: str) -> tuple[list[float], list[float]]:
    """(alphas, weights) of a quadrature of the path integral over [0, 1] (Captum's rules)."""
    if rule == "riemann_right":
        return [i / steps for i in range(1, steps + 1)], [1 / steps] * steps
    if rule == "riemann_left":
        return [i / steps for i in range(steps)], [1 / steps] * steps
    if rule == "riemann_middle":
        return [(i + 0.5) / steps for i in range(steps)], [1 / steps] * steps
    if rule == "riemann_trapezoid":
        if steps < 2:
            raise InputValidationError("riemann_trapezoid needs steps >= 2")
        weights = [1 / (steps - 1)] * steps
        weights[0] = weights[-1] = 0.5 / (steps - 1)
        return [i / (steps - 1) for i in range(steps)], weights
    nodes, weights = np.polynomial.legendre.leggauss(steps)
    return [float((n + 1) / 2) for n in nodes], [float(w / 2) for w in weights]


class IntegratedGradients(InputGradientExplainer):
    """Integrated Gradients (Sundararajan et al. 2017): (x - x') * integral of dy/dx on the path.

    Paper: https://arxiv.org/abs/1703.01365, eq. 3, approximated by ``steps`` points of a
    quadrature ``rule`` (default ``riemann_right``, the paper's sum over k = 1..m; Captum's
    default is ``gausslegendre``, also available). ``baseline``: the value x' in the model's
    input space (default 0.0: the dataset mean after the usual normalisation). Completeness
    (sum of attributions = y(x) - y(x')) holds up to the quadrature error (tested). Path
    points of all images go through the model ``batch_size`` at a time; ``attribute``
    returns the signed (B, 3, H, W) attribution, the map its |.| summed over channels.
    """

    name: ClassVar[str] = "integrated_gradients"
    paper: ClassVar[str] = "Sundararajan et al. 2017, arXiv:1703.01365"
    oracle: ClassVar[str] = "Captum IntegratedGradients, every rule (1e-9); completeness"
    options: ClassVar[dict[str, Any]] = {"steps": 50, "baseline": 0.0, "rule": "riemann_right",
                                         "batch_size": 64, "progress": False}
    reduction: ClassVar[str] = "sum_abs"

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        cfg = self.config
        check_int(cfg["steps"], "integrated_gradients steps")
        check_int(cfg["batch_size"], "integrated_gradients batch_size")
        if cfg["rule"] not in RULES:
            raise InputValidationError(f"integrated_gradients rule must be one of {RULES}, "
                                       f"not {cfg['rule']!r}")
        baseline = cfg["baseline"]
        if isinstance(baseline, bool) or not isinstance(baseline, (int, float)) or \
                not math.isfinite(baseline):
            raise InputValidationError(
                f"integrated_gradients baseline must be a finite number, not {baseline!r}")
        self.alphas, self.weights = path_points(cfg["steps"], cfg["rule"])

    def _raw(self, images: torch.Tensor, targets: TargetSpec) -> tuple[torch.Tensor, SelectedScores]:
        cfg = self.config
        selected, per_image = clean_selection(self.model, images, targets)
        batch = images.shape[0]
        baseline = torch.full_like(images, float(cfg["baseline"]))
        delta = images - baseline
        steps = len(self.alphas)
        alphas = torch.tensor(self.alphas, dtype=images.dtype, device=images.device)
        weights = torch.tensor(self.weights, dtype=images.dtype, device=images.device)
        total_grad = images.new_zeros(selected.scores.shape[1], batch, *images.shape[1:])

        def build(start: int, stop: int) -> tuple[torch.Tensor, torch.Tensor]:
            rows = torch.arange(start, stop, device=images.device)
            img_idx, step = rows // steps, rows % steps
            return baseline[img_idx] + alphas[step, None, None, None] * delta[img_idx], img_idx

        def sink(grads: torch.Tensor, img_idx: torch.Tensor, start: int, stop: int) -> None:
            step = torch.arange(start, stop, device=images.device) % steps
            total_grad.index_add_(1, img_idx, grads * weights[step, None, None, None])

        gradients_of_copies(self.model, build, batch * steps, per_image, sink,
                            batch_size=cfg["batch_size"], progress=cfg["progress"], desc=self.name)
        return (total_grad * delta.unsqueeze(0)).transpose(0, 1), selected
