"""Score many perturbed copies of a batch for every image's K targets, a chunk per forward pass.

Perturbation methods (occlusion, Score-CAM, Ablation-CAM, RISE) run the model on copies of
the input that each belong to one image. Peers call the model once per class; here one
forward pass of a chunk serves all K targets of the images in it, so K classes cost what
one does. Memory stays bounded: at most ``batch_size`` copies exist at a time.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import torch
import torch.nn.functional as F
from tqdm.auto import tqdm

from xai_eval.errors import InputValidationError
from xai_eval.explain.targets import TargetSpec, select_scores

SCORES = ("logit", "prob")

#: builds rows ``start:stop`` of the perturbed batch -> (model input, (n,) image index per row)
RowBuilder = Callable[[int, int], tuple[torch.Tensor, torch.Tensor]]


def check_score(score: Any, method: str) -> str:
    if score not in SCORES:
        raise InputValidationError(f"{method} score must be one of {SCORES}, not {score!r}")
    return score


def check_positive_int(value: Any, what: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise InputValidationError(f"{what} must be a positive int, not {value!r}")
    return value


def check_fraction(value: Any, what: str) -> float:
    """A float strictly inside (0, 1]."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not (
        math.isfinite(value) and 0 < value <= 1
    ):
        raise InputValidationError(f"{what} must be a number in (0, 1], not {value!r}")
    return float(value)


def refuse_prob_with_callable(score: str, targets: TargetSpec, method: str) -> None:
    if score == "prob" and callable(targets) and not isinstance(targets, torch.Tensor):
        raise InputValidationError(
            f"{method} score='prob' takes the softmax of class logits; with a targets "
            "callable use score='logit' (the callable defines the score)"
        )


def class_scores(output: Any, targets: TargetSpec, batch: int, score: str) -> torch.Tensor:
    """(batch, K) scores of the targets: the logits, or their softmax for ``score="prob"``."""
    if score == "prob":
        if not isinstance(output, torch.Tensor) or output.dim() != 2:
            raise InputValidationError(
                "score='prob' needs a model returning (B, num_classes) logits"
            )
        output = F.softmax(output, dim=1)
    return select_scores(output, targets, batch).scores


def per_image_targets(selected_class_ids: torch.Tensor | None, targets: TargetSpec) -> TargetSpec:
    """The targets perturbed copies are scored for: the classes the clean pass chose."""
    return selected_class_ids if selected_class_ids is not None else targets


def score_rows(model: torch.nn.Module, build: RowBuilder, total: int, per_image: TargetSpec,
               k: int, *, score: str = "logit", batch_size: int = 64, progress: bool = False,
               desc: str = "perturbation") -> torch.Tensor:
    """(total, K) scores of ``total`` perturbed rows, ``batch_size`` rows per forward pass.

    Call under ``torch.no_grad``. Row ``r`` is scored for the K targets of its own image.
    """
    out: torch.Tensor | None = None
    for start in tqdm(range(0, total, batch_size), desc=desc, unit="batch", disable=not progress):
        stop = min(start + batch_size, total)
        inputs, img_idx = build(start, stop)
        chunk_targets = per_image[img_idx] if isinstance(per_image, torch.Tensor) else per_image
        scores = class_scores(model(inputs), chunk_targets, stop - start, score)
        if out is None:
            out = scores.new_empty(total, k)
        out[start:stop] = scores
    assert out is not None
    return out
