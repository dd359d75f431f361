"""Deletion / insertion curves of many samples at once (RISE; the protocol is documented in
:mod:`xai_eval.metrics.faithfulness`).

Each sample needs ``ceil(H*W / step) + 1`` forward passes of a perturbed image; one
sample's points alone rarely fill a batch on a GPU. Here the (sample, point) jobs of all
samples are laid out sample after sample and cut into chunks of ``batch_size`` images,
each chunk one forward on the model's device, so a chunk may hold the last points of one
sample and the first of the next. ``batch_size`` bounds memory: at most that many
perturbed images (and their activations) exist at a time; :func:`chunk_size_for` picks it
from a memory budget.

One sample gives exactly the chunks the per-sample code always used — the same images,
built the same way, with the same memory layout (a channels-last image gives
channels-last batches, and so the same convolution kernels) — so
:func:`xai_eval.metrics.faithfulness.perturbation_curve` is this function with N = 1 and
its numbers are unchanged. With several samples every image is perturbed and scored
exactly as alone; whether the model returns bit-identical logits for an image in a
different batch is the model's business (on the CPU most convolution kernels do; small
matrix products may differ in the last float32 bit, ~1e-7).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np
import torch
import torch.nn as nn

from xai_eval.errors import InputValidationError
from xai_eval.metrics import device as device_module
from xai_eval.metrics.shapes import as_saliency

OUTPUTS = ("softmax", "logit")


def check_image(image: Any) -> torch.Tensor:
    """One model-ready image as a finite float (C, H, W) tensor ((1, C, H, W) is accepted)."""
    if not isinstance(image, torch.Tensor) or not image.is_floating_point():
        raise InputValidationError(
            "image must be a float torch.Tensor (C, H, W) in the model's normalised input space"
        )
    if image.dim() == 4 and image.shape[0] == 1:
        image = image[0]
    if image.dim() != 3:
        raise InputValidationError(f"image must be (C, H, W) or (1, C, H, W); got {tuple(image.shape)}")
    if not bool(torch.isfinite(image).all()):
        raise InputValidationError("image contains NaN or Inf")
    return image.detach()


def saliency_ranks(saliency: Any, size: tuple[int, int], on_size_mismatch: str,
                   device: torch.device) -> torch.Tensor:
    """Each pixel's position (0 = most salient) in the stable descending order, (H, W) long.

    The map is validated, resized if allowed, and ranked in float64 — on ``device`` when it
    is a tensor there already, else on the CPU (:func:`~xai_eval.metrics.shapes.as_saliency`).
    Ties keep raster order, so the ranking is deterministic.
    """
    height, width = size
    if device_module.on_accelerator(saliency):
        values = device_module.device_saliency(saliency, size, on_size_mismatch)
    else:
        values = torch.from_numpy(as_saliency(saliency, size, on_size_mismatch))
    order = torch.argsort(-values.reshape(-1), stable=True)
    rank = torch.empty(height * width, dtype=torch.long, device=order.device)
    rank[order] = torch.arange(height * width, device=order.device)
    return rank.view(height, width).to(device)


def chunk_size_for(image: torch.Tensor, budget_bytes: float, activation_factor: float = 64.0
                   ) -> int:
    """How many perturbed copies of ``image`` (C, H, W) one forward may take within
    ``budget_bytes``: each costs its own size times ``activation_factor``, a rough and
    generous allowance for the activations a forward without autograd keeps alive at once
    (measure a model with unusually wide layers)."""
    per_image = image.numel() * image.element_size() * activation_factor
    return max(1, int(budget_bytes // max(per_image, 1.0)))


def _per_sample(value: torch.Tensor | Sequence[torch.Tensor], images: torch.Tensor, what: str
                ) -> list[torch.Tensor]:
    """One (C, H, W) view per image: from a list or an (N, C, H, W) stack, or one image /
    per-channel value shared by all, broadcast the way the per-sample code always did
    (``value.to(image).expand_as(image)``, so each image keeps its own strides)."""
    n = images.shape[0]
    if isinstance(value, torch.Tensor) and value.dim() == 4 and value.shape[0] == n and n != 1:
        value = list(value)
    elif isinstance(value, torch.Tensor):
        value = [value[0] if value.dim() == 4 else value] * n
    if len(value) != n:
        raise InputValidationError(f"{what}: {len(value)} images for {n} samples")
    out = []
    for item, image in zip(value, images, strict=True):
        try:
            out.append(item.to(image).expand_as(image))
        except RuntimeError as exc:
            raise InputValidationError(f"{what} of shape {tuple(item.shape)} does not broadcast "
                                       f"to the images {tuple(image.shape)}") from exc
    return out


def perturbation_curves(
    model: nn.Module,
    images: torch.Tensor,
    targets: Sequence[int] | torch.Tensor,
    saliencies: Sequence[Any],
    starts: torch.Tensor | Sequence[torch.Tensor],
    finishes: torch.Tensor | Sequence[torch.Tensor],
    step: int,
    *,
    output: str = "softmax",
    batch_size: int = 32,
    on_size_mismatch: str = "error",
) -> tuple[np.ndarray, np.ndarray]:
    """(fractions (P,), scores (N, P)): each sample's class score as its pixels move, most
    salient first, ``step`` at a time, from ``starts`` to ``finishes``.

    Args:
        model: the classifier; run in eval mode under ``no_grad``, mode restored after.
        images: (N, C, H, W) model-ready images (they fix the size and device).
        targets: N class indices.
        saliencies: N maps (any shape :func:`~xai_eval.metrics.shapes.as_saliency` takes).
        starts, finishes: N images (a list or an (N, C, H, W) stack), or one image /
            per-channel value for all.
        step: pixels moved per point; ``P = ceil(H*W / step) + 1`` points.
        output: ``"softmax"`` probability or raw ``"logit"``.
        batch_size: perturbed images per forward (bounds memory).
        on_size_mismatch: a map of another size is refused (``"error"``) or resized.
    """
    if output not in OUTPUTS:
        raise InputValidationError(f"output must be one of {OUTPUTS}, not {output!r}")
    if step < 1 or batch_size < 1:
        raise InputValidationError("step and batch_size must be positive integers")
    if not isinstance(images, torch.Tensor) or images.dim() != 4:
        shape = tuple(images.shape) if isinstance(images, torch.Tensor) else type(images).__name__
        raise InputValidationError(f"images must be an (N, C, H, W) tensor; got {shape}")
    n = images.shape[0]
    targets = [int(t) for t in (targets.tolist() if isinstance(targets, torch.Tensor) else targets)]
    if len(targets) != n or len(saliencies) != n:
        raise InputValidationError(
            f"{n} images need {n} targets and {n} maps; got {len(targets)} and {len(saliencies)}")
    for image in images:
        check_image(image)
    images = images.detach()  # as given: each image keeps its strides (and so its kernels)
    height, width = images.shape[-2:]
    device = images.device
    ranks = [saliency_ranks(s, (height, width), on_size_mismatch, device) for s in saliencies]
    n_pixels = height * width
    n_points = math.ceil(n_pixels / step) + 1
    changed = torch.clamp(torch.arange(n_points) * step, max=n_pixels)
    start = _per_sample(starts, images, "start")
    finish = _per_sample(finishes, images, "finish")
    scores = []
    was_training = model.training
    try:
        model.eval()
        with torch.no_grad():
            for first in range(0, n * n_points, batch_size):
                last = min(first + batch_size, n * n_points)  # jobs [first, last)
                parts, chunk_targets = [], []
                for s in range(first // n_points, (last - 1) // n_points + 1):
                    lo, hi = max(first, s * n_points), min(last, (s + 1) * n_points)
                    points = changed[lo - s * n_points:hi - s * n_points].to(device)
                    moved = ranks[s][None] < points[:, None, None]
                    parts.append(torch.where(moved[:, None], finish[s][None], start[s][None]))
                    chunk_targets += [targets[s]] * (hi - lo)
                batch = parts[0] if len(parts) == 1 else torch.cat(parts)
                scores.append(_class_scores(model, batch, torch.tensor(chunk_targets),
                                            output).cpu())
    finally:
        model.train(was_training)
    fractions = (changed.double() / n_pixels).numpy()
    flat = torch.cat(scores).numpy() if scores else np.zeros(0)
    return fractions, flat.reshape(n, n_points)


def _class_scores(model: nn.Module, batch: torch.Tensor, targets: torch.Tensor,
                  output: str) -> torch.Tensor:
    """Each row's score for its own target class (float64)."""
    logits = model(batch)
    bad = [t for t in targets.tolist() if logits.dim() != 2 or not 0 <= t < logits.shape[1]]
    if bad:
        raise InputValidationError(
            f"model output has shape {tuple(logits.shape)}; target class {bad[0]} is not in it")
    values = logits.double()
    if output == "softmax":
        values = torch.softmax(values, dim=1)
    return values.gather(1, targets.to(values.device)[:, None])[:, 0]


def curve_aucs(fractions: np.ndarray, scores: np.ndarray) -> np.ndarray:
    """Trapezoidal area of each row of ``scores`` over the fraction axis [0, 1]."""
    widths = fractions[1:] - fractions[:-1]
    return np.sum(widths * (scores[:, 1:] + scores[:, :-1]) / 2.0, axis=1)


__all__ = ["OUTPUTS", "check_image", "chunk_size_for", "curve_aucs", "perturbation_curves",
           "saliency_ranks"]
