"""Turn the user's ``targets`` into the (B, K) scores an explainer differentiates.

Accepted forms:

- ``None``: the predicted (arg-max) class of each image;
- an ``int``: that class for every image;
- a sequence or integer tensor of shape ``(B,)`` or ``(B, K)``: class indices;
- a callable ``f(output) -> (B,)`` or ``(B, K)`` scores: any differentiable quantity of the
  model's output (a segmentation class's region, a detector's box score, an answer score).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import torch

from xai_eval.errors import InputValidationError, ModelOutputError

TargetSpec = (
    None | int | Sequence[int] | Sequence[Sequence[int]] | torch.Tensor
    | Callable[[Any], torch.Tensor]
)


@dataclass
class SelectedScores:
    """Scores to explain and the class indices they came from (None for callables)."""

    scores: torch.Tensor  # (B, K), still in the autograd graph
    class_ids: torch.Tensor | None  # (B, K) int64, or None
    squeeze: bool  # True when the user asked for one target per image (no K axis)


def _logits(output: Any) -> torch.Tensor:
    if isinstance(output, torch.Tensor) and output.dim() == 2:
        return output
    if isinstance(output, dict):
        what = f"a dict with keys {sorted(output)}"
    elif isinstance(output, torch.Tensor):
        what = f"a tensor of shape {tuple(output.shape)}"
    else:
        what = type(output).__name__
    raise InputValidationError(
        f"the model returns {what}, not (B, num_classes) scores, so class indices cannot "
        "select a score; pass targets=callable(output) -> (B,) or (B, K) scores "
        "(see xai_eval.targets for segmentation helpers)"
    )


def class_index_tensor(targets: Any, batch: int, device: torch.device) -> tuple[torch.Tensor, bool]:
    """Integer targets as a (B, K) int64 tensor plus whether the K axis was absent."""
    if isinstance(targets, bool):
        raise InputValidationError("targets must be class indices, not a bool")
    if isinstance(targets, int):
        return torch.full((batch, 1), targets, dtype=torch.long, device=device), True
    tensor = torch.as_tensor(targets, device=device) if not isinstance(targets, torch.Tensor) else targets.to(device)
    if tensor.is_floating_point() or tensor.is_complex() or tensor.dtype == torch.bool:
        raise InputValidationError(
            f"targets must hold integer class indices; got dtype {tensor.dtype}. For scores of "
            "an arbitrary output, pass a callable instead"
        )
    tensor = tensor.long()
    if tensor.dim() == 0:
        return tensor.expand(batch).reshape(batch, 1).clone(), True
    if tensor.dim() == 1:
        if tensor.shape[0] != batch:
            raise InputValidationError(
                f"targets has {tensor.shape[0]} entries but there are {batch} images; pass one "
                "class per image (B,) or (B, K)"
            )
        return tensor.reshape(batch, 1), True
    if tensor.dim() == 2 and tensor.shape[0] == batch and tensor.shape[1] >= 1:
        return tensor, False
    raise InputValidationError(
        f"targets of shape {tuple(tensor.shape)} do not fit {batch} images; use (B,) or (B, K)"
    )


def select_scores(output: Any, targets: TargetSpec, batch: int) -> SelectedScores:
    """The (B, K) scores to explain, validated."""
    if callable(targets) and not isinstance(targets, torch.Tensor):
        scores = targets(output)
        if not isinstance(scores, torch.Tensor):
            raise InputValidationError(
                f"the targets callable returned {type(scores).__name__}; it must return a tensor "
                "of shape (B,) or (B, K)"
            )
        if scores.dim() not in (1, 2) or scores.shape[0] != batch or 0 in scores.shape:
            raise InputValidationError(
                f"the targets callable returned shape {tuple(scores.shape)}; expected ({batch},) "
                f"or ({batch}, K)"
            )
        squeeze = scores.dim() == 1
        if squeeze:
            scores = scores.unsqueeze(1)
        _check_finite(scores)
        return SelectedScores(scores, None, squeeze)
    logits = _logits(output)
    if targets is None:
        class_ids, squeeze = logits.detach().argmax(dim=1, keepdim=True), True
    else:
        class_ids, squeeze = class_index_tensor(targets, batch, logits.device)
    num_classes = logits.shape[1]
    bad = (class_ids < 0) | (class_ids >= num_classes)
    if bool(bad.any()):
        raise InputValidationError(
            f"target class {int(class_ids[bad][0])} is out of range: the model has "
            f"{num_classes} classes, so targets must lie in [0, {num_classes - 1}]"
        )
    scores = logits.gather(1, class_ids)
    _check_finite(scores)
    return SelectedScores(scores, class_ids, squeeze)


def _check_finite(scores: torch.Tensor) -> None:
    finite = torch.isfinite(scores.detach())
    if not bool(finite.all()):
        rows = sorted({int(i) for i in (~finite).nonzero()[:, 0].tolist()})
        raise ModelOutputError(
            f"the model's scores to explain contain NaN or Inf for images {rows}; an "
            "explanation of a non-finite score is meaningless. Check the inputs' "
            "normalisation and the weights"
        )
