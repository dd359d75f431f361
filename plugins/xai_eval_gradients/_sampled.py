"""Gradients at many perturbed copies of each image, a chunk of copies per forward pass.

Integrated Gradients and the SmoothGrad family average input gradients over copies of
the image (points on a path, noisy samples). Copies of all images go through the model
``batch_size`` at a time; each chunk's K targets are differentiated in K backward passes
over the whole chunk (images are independent in eval mode), so the cost is the floor:
copies x (forward + K backward), batched.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
import torch.nn as nn
from tqdm.auto import tqdm

from xai_eval.explain.base import backward_per_target
from xai_eval.explain.targets import SelectedScores, TargetSpec, select_scores

#: rows start:stop -> (copies (n, C, H, W), image index per row (n,))
CopyBuilder = Callable[[int, int], tuple[torch.Tensor, torch.Tensor]]
#: (gradients (K, n, C, H, W), image index (n,), rows start:stop) -> None
Sink = Callable[[torch.Tensor, torch.Tensor, int, int], None]


def clean_selection(model: nn.Module, images: torch.Tensor, targets: TargetSpec
                    ) -> tuple[SelectedScores, TargetSpec]:
    """Scores of the unperturbed images and the targets every copy is differentiated for."""
    with torch.no_grad():
        selected = select_scores(model(images), targets, images.shape[0])
    per_image = selected.class_ids if selected.class_ids is not None else targets
    return selected, per_image


def gradients_of_copies(model: nn.Module, build: CopyBuilder, total: int, per_image: TargetSpec,
                        sink: Sink, *, batch_size: int, progress: bool = False,
                        desc: str = "gradients") -> None:
    """Feed ``sink`` the (K, n, C, H, W) input gradients of each chunk of copies."""
    for start in tqdm(range(0, total, batch_size), desc=desc, unit="batch", disable=not progress):
        stop = min(start + batch_size, total)
        copies, img_idx = build(start, stop)
        leaf = copies.detach().requires_grad_(True)
        chunk_targets = per_image[img_idx] if isinstance(per_image, torch.Tensor) else per_image
        with torch.enable_grad():
            scores = select_scores(model(leaf), chunk_targets, stop - start).scores
            grads = backward_per_target(scores, leaf)
        sink(grads, img_idx, start, stop)


def check_int(value: Any, what: str, minimum: int = 1) -> int:
    from xai_eval.errors import InputValidationError

    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise InputValidationError(f"{what} must be an int >= {minimum}, not {value!r}")
    return value
