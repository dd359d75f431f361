"""Occlusion (Zeiler & Fergus 2014): how much the class score drops when a patch is hidden.

A ``patch_size`` square (or ``(h, w)`` rectangle) filled with ``fill`` slides over the image
with ``stride``; each occluded image goes through the model once and gives the score drop
``s(x) - s(x_occluded)`` for *all* K targets at once. A pixel's value is the mean drop over
the windows covering it, so the raw map is signed, (B, K, 1, H, W) at input resolution, and
the saliency map is its positive part (regions whose removal lowers the score).

Windows start at 0, stride, 2*stride, ...; when the last one stops short of the border, one
more window is placed flush with it, so every pixel is covered by full-size patches.
Captum's ``Occlusion`` instead truncates that last window at the border; the two agree
whenever ``(H - patch) % stride == 0`` (tested). Memory stays bounded: occluded images are
built and scored ``batch_size`` at a time.
"""

from __future__ import annotations

import math
from typing import Any, ClassVar

import torch
import torch.nn.functional as F
from tqdm.auto import tqdm

from xai_eval.errors import InputValidationError
from xai_eval.explain.base import Explainer
from xai_eval.explain.targets import SelectedScores, TargetSpec, select_scores

SCORES = ("logit", "prob")


def window_starts(size: int, patch: int, stride: int) -> list[int]:
    """Start offsets along one axis: 0, stride, ... plus one flush with the far border."""
    starts = list(range(0, size - patch + 1, stride))
    if starts[-1] != size - patch:
        starts.append(size - patch)
    return starts


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


class Occlusion(Explainer):
    """Occlusion sensitivity (Zeiler & Fergus 2014): mean score drop over the patches covering a pixel.

    Paper: https://arxiv.org/abs/1311.2901, §4.2. The Grad-CAM paper (§5.3) rank-correlates
    maps with it. Options (the papers fix none of them; each is recorded):

    - ``patch_size``: int pixels, ``(h, w)``, or a float fraction of the shorter image side
      (default 0.125: 28 px at 224);
    - ``stride``: int pixels, ``(h, w)``, or a float fraction of the patch (default 0.5);
      it may not exceed the patch, or some pixels would never be occluded;
    - ``fill``: the value patches are filled with, in the model's input space (default 0.0,
      the dataset mean after the usual normalisation), or ``"mean"`` for each image's own
      per-channel mean;
    - ``score``: ``"logit"`` (default) or ``"prob"`` (softmax probability of the class);
    - ``batch_size``: occluded images per forward pass (default 64); results do not depend
      on it;
    - ``progress``: show a progress bar.

    Cost: one forward pass per (image, window) for all K targets together.
    """

    name: ClassVar[str] = "occlusion"
    options: ClassVar[dict[str, Any]] = {
        "patch_size": 0.125, "stride": 0.5, "fill": 0.0, "score": "logit",
        "batch_size": 64, "progress": False,
    }
    reduction: ClassVar[str] = "sum_relu"
    #: forward passes only, so it also runs inside torch.inference_mode()
    needs_autograd: ClassVar[bool] = False

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if self.config["score"] not in SCORES:
            raise InputValidationError(
                f"occlusion score must be one of {SCORES}, not {self.config['score']!r}"
            )
        fill = self.config["fill"]
        if fill != "mean" and (isinstance(fill, bool) or not isinstance(fill, (int, float))
                               or not math.isfinite(fill)):
            raise InputValidationError(
                f"occlusion fill must be a finite number (in the model's input space) or "
                f"'mean', not {fill!r}"
            )
        batch_size = self.config["batch_size"]
        if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
            raise InputValidationError(f"occlusion batch_size must be a positive int, not {batch_size!r}")
        self.geometry(1 << 20, 1 << 20)  # type and range errors now, not at the first call

    def geometry(self, height: int, width: int) -> tuple[tuple[int, int], tuple[int, int]]:
        """((patch_h, patch_w), (stride_h, stride_w)) in pixels for an image of this size."""
        side = min(height, width)
        ph, pw = (_pixels(v, side, "patch_size") for v in _pair(self.config["patch_size"], "patch_size"))
        sh, sw = _pair(self.config["stride"], "stride")
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

    def _scores(self, output: Any, targets: TargetSpec, batch: int) -> torch.Tensor:
        if self.config["score"] == "prob":
            if not isinstance(output, torch.Tensor) or output.dim() != 2:
                raise InputValidationError(
                    "occlusion score='prob' needs a model returning (B, num_classes) logits"
                )
            output = F.softmax(output, dim=1)
        return select_scores(output, targets, batch).scores

    def _raw(self, images: torch.Tensor, targets: TargetSpec) -> tuple[torch.Tensor, SelectedScores]:
        if self.config["score"] == "prob" and callable(targets) and not isinstance(targets, torch.Tensor):
            raise InputValidationError(
                "occlusion score='prob' takes the softmax of class logits; with a targets "
                "callable use score='logit' (the callable defines the score)"
            )
        batch, channels, height, width = images.shape
        (ph, pw), (sh, sw) = self.geometry(height, width)
        windows = [(y, x) for y in window_starts(height, ph, sh) for x in window_starts(width, pw, sw)]
        with torch.no_grad():
            output = self.model(images)
            selected = select_scores(output, targets, batch)
            # Occluded images are scored for exactly the classes chosen here.
            per_image = selected.class_ids if selected.class_ids is not None else targets
            base = self._scores(output, per_image, batch)
            drops = self._drops(images, windows, (ph, pw), per_image, base)
        sums = images.new_zeros(batch, base.shape[1], height, width)
        counts = images.new_zeros(height, width)
        for index, (y, x) in enumerate(windows):
            sums[..., y:y + ph, x:x + pw] += drops[:, :, index, None, None]
            counts[y:y + ph, x:x + pw] += 1
        return (sums / counts).unsqueeze(2), selected

    def _drops(self, images: torch.Tensor, windows: list[tuple[int, int]], patch: tuple[int, int],
               per_image: TargetSpec, base: torch.Tensor) -> torch.Tensor:
        """(B, K, n_windows) score drops, ``batch_size`` occluded images per forward pass."""
        batch, _c, height, width = images.shape
        ph, pw = patch
        fill = images.mean(dim=(2, 3), keepdim=True) if self.config["fill"] == "mean" else \
            torch.full((batch, 1, 1, 1), float(self.config["fill"]), dtype=images.dtype,
                       device=images.device)
        n = len(windows)
        drops = base.new_zeros(batch, base.shape[1], n)
        total, step = batch * n, self.config["batch_size"]
        for start in tqdm(range(0, total, step), desc="occlusion", unit="batch",
                          disable=not self.config["progress"]):
            flat = torch.arange(start, min(start + step, total), device=images.device)
            img_idx, win_idx = flat // n, flat % n
            mask = torch.zeros(len(flat), 1, height, width, dtype=torch.bool, device=images.device)
            for row, w in enumerate(win_idx.tolist()):
                y, x = windows[w]
                mask[row, :, y:y + ph, x:x + pw] = True
            occluded = torch.where(mask, fill[img_idx], images[img_idx])
            chunk_targets = per_image[img_idx] if isinstance(per_image, torch.Tensor) else per_image
            scores = self._scores(self.model(occluded), chunk_targets, len(flat))
            drops[img_idx, :, win_idx] = base[img_idx] - scores
        return drops
