"""Infidelity and max-sensitivity (Yeh et al., NeurIPS 2019), as Captum defines them.

- **Infidelity**: ``E_I[(Iᵀ φ − (f(x) − f(x − I)))²]`` — does the map predict how the
  class score changes under a random perturbation ``I``? ``φ`` is the (H, W) map
  broadcast over the channels, ``I ~ N(0, noise_std²)`` per input value (in the model's
  normalised input space), ``f`` the explained class's logit (``output="logit"``). Lower is
  better. Captum's ``infidelity`` with ``normalize=False`` is the oracle.
- **Max-sensitivity**: ``max_δ ‖φ(x + δ) − φ(x)‖_F / ‖φ(x)‖_F`` over ``δ`` uniform in the
  L∞ ball of radius ``radius`` (Captum's ``default_perturb_func``, 0.02), re-explaining each
  perturbed input; ``‖φ(x)‖ = 0`` divides by 1, as Captum does. Lower is better.

The perturbations are drawn by the caller (the metric: from the sample's random stream),
so both functions are deterministic given them — which is also how the tests feed the
very same perturbations to Captum.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch

from xai_eval.errors import InputValidationError
from xai_eval.explain.state import ModelStateGuard
from xai_eval.metrics.curves import OUTPUTS
from xai_eval.metrics.curves import check_image as _check_image
from xai_eval.metrics.shapes import as_saliency


def _scores(model: torch.nn.Module, batch: torch.Tensor, target: int, output: str) -> torch.Tensor:
    if output not in OUTPUTS:
        raise InputValidationError(f"output must be one of {OUTPUTS}, not {output!r}")
    with ModelStateGuard(model, eval_mode=True), torch.no_grad():
        logits = model(batch).double()
    return (logits.softmax(dim=1) if output == "softmax" else logits)[:, int(target)]


def infidelity(model: torch.nn.Module, image: Any, target: int, saliency: Any,
               perturbations: torch.Tensor, *, output: str = "logit",
               on_size_mismatch: str = "resize") -> float:
    """Infidelity of one map under the given ``(N, C, H, W)`` perturbations."""
    image = _check_image(image)
    if perturbations.dim() != 4 or tuple(perturbations.shape[1:]) != tuple(image.shape):
        raise InputValidationError(f"perturbations must be (N, {', '.join(map(str, image.shape))}),"
                                   f" got {tuple(perturbations.shape)}")
    phi = torch.from_numpy(as_saliency(saliency, tuple(image.shape[-2:]), on_size_mismatch))
    noise = perturbations.to(image.device, image.dtype)
    scores = _scores(model, torch.cat([image[None], image[None] - noise]), target, output)
    predicted = (noise.double().cpu() * phi[None, None]).sum(dim=(1, 2, 3))
    actual = (scores[0] - scores[1:]).cpu()
    return float(((predicted - actual) ** 2).mean())


def max_sensitivity(explain: Callable[[torch.Tensor], Any], image: Any,
                    perturbations: torch.Tensor) -> float:
    """Max-sensitivity of ``explain`` (image (C, H, W) -> (H, W) map) under ``x + δ``."""
    image = _check_image(image)
    base = torch.as_tensor(explain(image)).double().reshape(-1)
    norm = float(torch.linalg.vector_norm(base))
    norm = norm if norm != 0.0 else 1.0
    worst = 0.0
    for delta in perturbations.to(image.device, image.dtype):
        moved = torch.as_tensor(explain(image + delta)).double().reshape(-1)
        worst = max(worst, float(torch.linalg.vector_norm(moved - base)) / norm)
    return worst


__all__ = ["infidelity", "max_sensitivity"]
