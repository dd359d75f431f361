"""Occlusion sensitivity math (Zeiler & Fergus 2014), shared by the explainer and the metric.

A ``patch`` rectangle filled with ``fill`` slides over the image with ``stride``; each
occluded image goes through the model once and gives the score drop
``s(x) - s(x_occluded)`` for *all* K targets at once. A pixel's value is the mean drop over
the windows covering it, so the map is signed, (B, K, 1, H, W) at input resolution.

Windows start at 0, stride, 2*stride, ...; when the last one stops short of the border, one
more window is placed flush with it, so every pixel is covered by full-size patches.
Captum's ``Occlusion`` instead truncates that last window at the border; the two agree
whenever ``(H - patch) % stride == 0`` (tested). Memory stays bounded: occluded images are
built and scored ``batch_size`` at a time.

It lives in the core (not in the ``occlusion`` plugin) because the Grad-CAM paper's
faithfulness metric (rank correlation with occlusion, §5.3) needs the same map: the metric
and the explainer users compare against are one implementation, and blocking the
perturbation plugin cannot break a core metric.
"""

from __future__ import annotations

import math
from typing import Any

import torch
import torch.nn as nn
import torch.nn.functional as F
from tqdm.auto import tqdm

from xai_eval.errors import InputValidationError
from xai_eval.explain.targets import SelectedScores, TargetSpec, select_scores

SCORES = ("logit", "prob")

Window = tuple[int, int]


def window_starts(size: int, patch: int, stride: int) -> list[int]:
    """Start offsets along one axis: 0, stride, ... plus one flush with the far border."""
    starts = list(range(0, size - patch + 1, stride))
    if starts[-1] != size - patch:
        starts.append(size - patch)
    return starts


def windows_for(height: int, width: int, patch: tuple[int, int], stride: tuple[int, int]
                ) -> list[Window]:
    """Every window's top-left corner (y, x), rows first."""
    (ph, pw), (sh, sw) = patch, stride
    return [(y, x) for y in window_starts(height, ph, sh) for x in window_starts(width, pw, sw)]


def _pair(value: Any, what: str) -> tuple[Any, Any]:
    if isinstance(value, (tuple, list)):
        if len(value) != 2:
            raise InputValidationError(f"occlusion {what} must be one number or (h, w); got {value!r}")
        return value[0], value[1]
    return value, value


def _pixels(value: Any, reference: int, what: str) -> int:
    """An int is pixels; a float in (0, 1] is a fraction of ``reference``."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise InputValidationError(
            f"occlusion {what} must be a positive int (pixels) or a float in (0, 1] (a "
            f"fraction), not {value!r}"
        )
    if isinstance(value, float):
        if not 0 < value <= 1:
            raise InputValidationError(
                f"occlusion {what}={value} as a fraction must lie in (0, 1]; use an int for pixels"
            )
        return max(1, round(value * reference))
    if value < 1:
        raise InputValidationError(f"occlusion {what} must be at least 1 pixel; got {value}")
    return value


def occlusion_geometry(patch_size: Any, stride: Any, height: int, width: int
                       ) -> tuple[tuple[int, int], tuple[int, int]]:
    """((patch_h, patch_w), (stride_h, stride_w)) in pixels for an image of this size.

    ``patch_size``: int pixels, ``(h, w)``, or a float fraction of the shorter image side;
    ``stride``: int pixels, ``(h, w)``, or a float fraction of the patch. A stride past the
    patch is refused: the pixels between patches would never be occluded.
    """
    side = min(height, width)
    ph, pw = (_pixels(v, side, "patch_size") for v in _pair(patch_size, "patch_size"))
    sh, sw = _pair(stride, "stride")
    sh, sw = _pixels(sh, ph, "stride"), _pixels(sw, pw, "stride")
    if ph > height or pw > width:
        raise InputValidationError(
            f"occlusion patch {ph}x{pw} is larger than the {height}x{width} image; pass a "
            "smaller patch_size (or a fraction such as 0.125)"
        )
    if sh > ph or sw > pw:
        raise InputValidationError(
            f"occlusion stride {sh}x{sw} exceeds the patch {ph}x{pw}: pixels between patches "
            "would never be occluded; use stride <= patch_size"
        )
    return (ph, pw), (sh, sw)


def check_occlusion_options(score: Any, fill: Any, batch_size: Any) -> None:
    """Type and range errors for the options that do not depend on the image size."""
    if score not in SCORES:
        raise InputValidationError(f"occlusion score must be one of {SCORES}, not {score!r}")
    if fill != "mean" and (isinstance(fill, bool) or not isinstance(fill, (int, float))
                           or not math.isfinite(fill)):
        raise InputValidationError(
            f"occlusion fill must be a finite number (in the model's input space) or "
            f"'mean', not {fill!r}"
        )
    if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
        raise InputValidationError(f"occlusion batch_size must be a positive int, not {batch_size!r}")


def occlusion_scores(output: Any, targets: TargetSpec, batch: int, score: str) -> torch.Tensor:
    """(batch, K) scores of the targets: the logits, or their softmax for ``score="prob"``."""
    if score == "prob":
        if not isinstance(output, torch.Tensor) or output.dim() != 2:
            raise InputValidationError(
                "occlusion score='prob' needs a model returning (B, num_classes) logits"
            )
        output = F.softmax(output, dim=1)
    return select_scores(output, targets, batch).scores


def fill_values(images: torch.Tensor, fill: float | str) -> torch.Tensor:
    """(B, C|1, 1, 1) patch fill: a constant, or each image's per-channel mean (``"mean"``)."""
    if fill == "mean":
        return images.mean(dim=(2, 3), keepdim=True)
    return torch.full((images.shape[0], 1, 1, 1), float(fill), dtype=images.dtype,
                      device=images.device)


def occlusion_drops(model: nn.Module, images: torch.Tensor, windows: list[Window],
                    patch: tuple[int, int], per_image: TargetSpec, base: torch.Tensor, *,
                    fill: float | str = 0.0, score: str = "logit", batch_size: int = 64,
                    progress: bool = False) -> torch.Tensor:
    """(B, K, n_windows) score drops ``base - s(occluded)``, ``batch_size`` images per forward.

    ``per_image`` are the targets the occluded images are scored for (class ids (B, K) or a
    callable), ``base`` the (B, K) unoccluded scores. Call under ``torch.no_grad``.
    """
    batch, _c, height, width = images.shape
    ph, pw = patch
    fills = fill_values(images, fill)
    n = len(windows)
    drops = base.new_zeros(batch, base.shape[1], n)
    total = batch * n
    for start in tqdm(range(0, total, batch_size), desc="occlusion", unit="batch",
                      disable=not progress):
        flat = torch.arange(start, min(start + batch_size, total), device=images.device)
        img_idx, win_idx = flat // n, flat % n
        mask = torch.zeros(len(flat), 1, height, width, dtype=torch.bool, device=images.device)
        for row, w in enumerate(win_idx.tolist()):
            y, x = windows[w]
            mask[row, :, y:y + ph, x:x + pw] = True
        occluded = torch.where(mask, fills[img_idx], images[img_idx])
        chunk_targets = per_image[img_idx] if isinstance(per_image, torch.Tensor) else per_image
        scores = occlusion_scores(model(occluded), chunk_targets, len(flat), score)
        drops[img_idx, :, win_idx] = base[img_idx] - scores
    return drops


def average_drops(drops: torch.Tensor, windows: list[Window], patch: tuple[int, int],
                  size: tuple[int, int], dtype: torch.dtype | None = None) -> torch.Tensor:
    """(B, K, 1, H, W) in ``dtype`` (default: the drops'): each pixel's mean covering drop."""
    batch, k, _n = drops.shape
    (ph, pw), (height, width) = patch, size
    sums = drops.new_zeros(batch, k, height, width, dtype=dtype)
    counts = sums.new_zeros(height, width)
    for index, (y, x) in enumerate(windows):
        sums[..., y:y + ph, x:x + pw] += drops[:, :, index, None, None]
        counts[y:y + ph, x:x + pw] += 1
    return (sums / counts).unsqueeze(2)


def occlusion_attribution(model: nn.Module, images: torch.Tensor, targets: TargetSpec, *,
                          patch_size: Any = 0.125, stride: Any = 0.5, fill: float | str = 0.0,
                          score: str = "logit", batch_size: int = 64, progress: bool = False
                          ) -> tuple[torch.Tensor, SelectedScores]:
    """The signed (B, K, 1, H, W) occlusion map of validated ``images`` and the selected scores.

    The model runs as it is (the caller puts it in eval mode and restores it); no gradients.
    Occluded images are scored for exactly the classes the unoccluded pass selected, so
    ``targets=None`` (the predicted class) cannot drift between windows.
    """
    check_occlusion_options(score, fill, batch_size)
    if score == "prob" and callable(targets) and not isinstance(targets, torch.Tensor):
        raise InputValidationError(
            "occlusion score='prob' takes the softmax of class logits; with a targets "
            "callable use score='logit' (the callable defines the score)"
        )
    batch, _channels, height, width = images.shape
    patch, steps = occlusion_geometry(patch_size, stride, height, width)
    windows = windows_for(height, width, patch, steps)
    with torch.no_grad():
        output = model(images)
        selected = select_scores(output, targets, batch)
        per_image = selected.class_ids if selected.class_ids is not None else targets
        base = occlusion_scores(output, per_image, batch, score)
        drops = occlusion_drops(model, images, windows, patch, per_image, base, fill=fill,
                                score=score, batch_size=batch_size, progress=progress)
    return average_drops(drops, windows, patch, (height, width), images.dtype), selected


__all__ = [
    "SCORES",
    "average_drops",
    "check_occlusion_options",
    "fill_values",
    "occlusion_attribution",
    "occlusion_drops",
    "occlusion_geometry",
    "occlusion_scores",
    "window_starts",
    "windows_for",
]
