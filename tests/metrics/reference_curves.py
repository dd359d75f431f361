"""The per-sample deletion/insertion curve code from before the batched one
(:mod:`xai_eval.metrics.curves`), kept verbatim as the tests' oracle."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import torch
import torch.nn as nn

from xai_eval.metrics.shapes import as_saliency


def reference_curve(model: nn.Module, image: torch.Tensor, target: int, saliency: Any,
                    start: torch.Tensor, finish: torch.Tensor, step: int, *,
                    output: str = "softmax", batch_size: int = 32,
                    on_size_mismatch: str = "error") -> tuple[np.ndarray, np.ndarray]:
    """(fractions, scores) of one sample, one chunk of its own points per forward."""
    height, width = image.shape[-2:]
    sal = as_saliency(saliency, (height, width), on_size_mismatch)
    n_pixels = height * width
    order = torch.argsort(torch.from_numpy(-sal.ravel()), stable=True)
    rank = torch.empty(n_pixels, dtype=torch.long)
    rank[order] = torch.arange(n_pixels)
    rank = rank.view(height, width).to(image.device)
    n_steps = math.ceil(n_pixels / step)
    changed = torch.clamp(torch.arange(n_steps + 1) * step, max=n_pixels)
    start = start.to(image).expand_as(image)
    finish = finish.to(image).expand_as(image)
    was_training = model.training
    scores = []
    try:
        model.eval()
        with torch.no_grad():
            for chunk in changed.split(batch_size):
                moved = rank[None] < chunk.to(image.device)[:, None, None]
                batch = torch.where(moved[:, None], finish[None], start[None])
                logits = model(batch)
                if output == "softmax":
                    scores.append(torch.softmax(logits.double(), dim=1)[:, target].cpu())
                else:
                    scores.append(logits.double()[:, target].cpu())
    finally:
        model.train(was_training)
    return (changed.double() / n_pixels).numpy(), torch.cat(scores).numpy()


def reference_auc(fractions: np.ndarray, scores: np.ndarray) -> float:
    """Trapezoid over the fraction axis, as the per-sample code summed it."""
    return float(np.sum((fractions[1:] - fractions[:-1]) * (scores[1:] + scores[:-1]) / 2.0))
