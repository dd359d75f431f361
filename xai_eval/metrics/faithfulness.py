"""Faithfulness: deletion / insertion AUC (Petsiuk et al., RISE 2018) and the Grad-CAM
paper's rank correlation with occlusion maps (§5.3).

Deletion / insertion. Pixels are ranked by saliency (descending; ties broken by raster
order, a stable sort, so the result is deterministic). In ``n = ceil(H*W / step)`` steps
``step`` pixels at a time move from the *start* image to the *finish* image:

- deletion: start = the image, finish = ``baseline`` (RISE: 0 in the model's normalised
  input space, i.e. the dataset mean colour);
- insertion: start = the image blurred with a Gaussian (RISE: kernel 11, sigma 5),
  finish = the image.

The curve is the class probability (softmax of the logits; ``output="logit"`` scores the
raw logit instead) at fractions ``x_i = min(i*step, H*W) / (H*W)``, i = 0..n, and the
score is its trapezoidal area over [0, 1]. When ``step`` divides ``H*W`` this is RISE's
``auc`` exactly. Deletion: lower is better; insertion: higher is better. The model runs in
eval mode under ``torch.no_grad`` in chunks of ``batch_size`` images (memory-bounded);
its training flag is restored afterwards.

Rank correlation. Spearman's rho (average ranks for ties, then Pearson) between the
flattened map and an occlusion map of the same image and class (:func:`occlusion_map`,
the math of the ``occlusion`` explainer, :mod:`xai_eval.explain.occlusion`). It is undefined for a
constant map; :func:`rank_correlation` returns None then, and the metric decides (scores 0
or excludes, a parameter).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np
import torch
import torch.nn as nn
import torchvision.transforms.functional as TF
from scipy.stats import rankdata

from xai_eval.errors import InputValidationError, ModelOutputError
from xai_eval.explain.base import expected_channels, validate_images
from xai_eval.explain.occlusion import occlusion_attribution
from xai_eval.explain.state import ModelStateGuard
from xai_eval.metrics.curves import OUTPUTS, curve_aucs, perturbation_curves
from xai_eval.metrics.curves import check_image as _check_image
from xai_eval.metrics.shapes import as_saliency, is_constant


def blur_image(image: torch.Tensor, kernel_size: int = 11, sigma: float = 5.0) -> torch.Tensor:
    """Gaussian blur (torchvision, reflect padding); RISE's insertion start image."""
    if kernel_size % 2 == 0 or kernel_size < 1:
        raise InputValidationError(f"blur kernel_size must be odd and positive, not {kernel_size}")
    return TF.gaussian_blur(image, [kernel_size, kernel_size], [sigma, sigma])


def perturbation_curve(
    model: nn.Module,
    image: Any,
    target: int,
    saliency: Any,
    start: torch.Tensor,
    finish: torch.Tensor,
    step: int,
    *,
    output: str = "softmax",
    batch_size: int = 32,
    on_size_mismatch: str = "error",
) -> tuple[np.ndarray, np.ndarray]:
    """(fractions, scores): the class score as pixels move from ``start`` to ``finish``.

    A map whose size differs from the image is refused (``on_size_mismatch="error"``) or
    resized bilinearly (``"resize"``) before ranking.
    """
    image = _check_image(image)
    fractions, scores = perturbation_curves(model, image[None], [int(target)], [saliency],
                                            start, finish, step, output=output,
                                            batch_size=batch_size,
                                            on_size_mismatch=on_size_mismatch)
    return fractions, scores[0]


def curve_auc(fractions: np.ndarray, scores: np.ndarray) -> float:
    """Trapezoidal area under the curve over the fraction axis [0, 1]."""
    return float(np.sum((fractions[1:] - fractions[:-1]) * (scores[1:] + scores[:-1]) / 2.0))


def deletion_auc(
    model: nn.Module,
    image: Any,
    target: int,
    saliency: Any,
    step: int = 224,
    baseline: float | torch.Tensor = 0.0,
    *,
    output: str = "softmax",
    batch_size: int = 32,
    on_size_mismatch: str = "error",
) -> float:
    """RISE deletion AUC: most salient pixels replaced by ``baseline`` first (lower = better).

    ``step`` pixels per step (RISE: 224 for 224x224 images); ``baseline`` a float or a
    tensor broadcastable to the image (C, H, W).
    """
    image = _check_image(image)
    finish = torch.as_tensor(baseline, dtype=image.dtype)
    if finish.dim() == 1:
        finish = finish[:, None, None]
    fractions, scores = perturbation_curve(model, image, target, saliency, image, finish, step,
                                           output=output, batch_size=batch_size,
                                           on_size_mismatch=on_size_mismatch)
    return curve_auc(fractions, scores)


def insertion_auc(
    model: nn.Module,
    image: Any,
    target: int,
    saliency: Any,
    step: int = 224,
    blur_kernel: int = 11,
    blur_sigma: float = 5.0,
    *,
    output: str = "softmax",
    batch_size: int = 32,
    on_size_mismatch: str = "error",
) -> float:
    """RISE insertion AUC: most salient pixels restored into a blurred image first (higher = better)."""
    image = _check_image(image)
    start = blur_image(image, blur_kernel, blur_sigma)
    fractions, scores = perturbation_curve(model, image, target, saliency, start, image, step,
                                           output=output, batch_size=batch_size,
                                           on_size_mismatch=on_size_mismatch)
    return curve_auc(fractions, scores)


def deletion_aucs(
    model: nn.Module,
    images: torch.Tensor,
    targets: Sequence[int] | torch.Tensor,
    saliencies: Sequence[Any],
    step: int = 224,
    baseline: float | torch.Tensor = 0.0,
    *,
    output: str = "softmax",
    batch_size: int = 32,
    on_size_mismatch: str = "error",
) -> np.ndarray:
    """:func:`deletion_auc` of N samples, their perturbed images sharing forwards (N,)."""
    finish = torch.as_tensor(baseline, dtype=images.dtype)
    if finish.dim() == 1:
        finish = finish[:, None, None]
    fractions, scores = perturbation_curves(model, images, targets, saliencies, images, finish,
                                            step, output=output, batch_size=batch_size,
                                            on_size_mismatch=on_size_mismatch)
    return curve_aucs(fractions, scores)


def insertion_aucs(
    model: nn.Module,
    images: torch.Tensor,
    targets: Sequence[int] | torch.Tensor,
    saliencies: Sequence[Any],
    step: int = 224,
    blur_kernel: int = 11,
    blur_sigma: float = 5.0,
    *,
    output: str = "softmax",
    batch_size: int = 32,
    on_size_mismatch: str = "error",
) -> np.ndarray:
    """:func:`insertion_auc` of N samples, their perturbed images sharing forwards (N,)."""
    starts = [blur_image(_check_image(image), blur_kernel, blur_sigma) for image in images]
    fractions, scores = perturbation_curves(model, images, targets, saliencies, starts, images,
                                            step, output=output, batch_size=batch_size,
                                            on_size_mismatch=on_size_mismatch)
    return curve_aucs(fractions, scores)


def occlusion_map(
    model: nn.Module,
    image: Any,
    target: int,
    patch_size: int = 32,
    stride: int = 16,
    fill: float | str = 0.0,
    *,
    output: str = "logit",
    batch_size: int = 32,
) -> np.ndarray:
    """Occlusion sensitivity (Zeiler & Fergus): score drop when a patch is set to ``fill``.

    Computed by :func:`xai_eval.explain.occlusion.occlusion_attribution`, the math of the
    ``occlusion`` explainer, so the metric and the explainer users compare against are one
    implementation (and blocking the perturbation plugin leaves the metric working): its
    signed raw map (the mean score drop over the patches covering each pixel; the last
    row/column of patches sits flush with the border, so every pixel is covered). The Grad-CAM paper does not give patch, stride
    or fill, so they are parameters. Two conveniences are kept from the metric's own API: a
    patch larger than the image is shrunk to it, and a stride past the last patch position
    is shortened to it (neither changes which patches are used). A stride that would leave
    pixels between patches uncovered is an error (it used to give NaN there).
    """
    image = _check_image(image)
    if output not in OUTPUTS:
        raise InputValidationError(f"output must be one of {OUTPUTS}, not {output!r}")
    for what, value in (("patch_size", patch_size), ("stride", stride),
                        ("batch_size", batch_size)):
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise InputValidationError(f"{what} must be a positive int (pixels), not {value!r}")
    height, width = image.shape[-2:]
    patch = (min(patch_size, height), min(patch_size, width))
    # windows start at 0, stride, ... plus one flush with the border, so any stride at or
    # past the last start (size - patch) gives the same two windows
    steps = tuple(max(1, min(stride, size - p)) for size, p in zip((height, width), patch, strict=True))
    images = validate_images(image[None], expected_channels(model))  # as the explainer does
    with ModelStateGuard(model, eval_mode=True):
        raw, _selected = occlusion_attribution(
            model, images, int(target), patch_size=patch, stride=steps, fill=fill,
            score="prob" if output == "softmax" else "logit", batch_size=batch_size)
    if not bool(torch.isfinite(raw).all()):
        raise ModelOutputError("the occlusion map is not finite: the model's scores are NaN/Inf "
                               "for this image or its occluded copies")
    return raw[0, 0, 0].double().cpu().numpy()  # (B, K, 1, H, W) -> (H, W)


def rank_correlation(a: Any, b: Any, *, absolute: bool = False) -> float | None:
    """Spearman's rho of two maps (tie-corrected); None when either map is constant.

    ``absolute=True`` ranks absolute values (Adebayo et al.'s variant for signed maps).
    The second map is resized to the first's size if needed (bilinear).
    """
    x = as_saliency(a, what="first map")
    y = as_saliency(b, x.shape, "resize", what="second map")
    if absolute:
        x, y = np.abs(x), np.abs(y)
    if is_constant(x) or is_constant(y):
        return None
    rx = rankdata(x.ravel())
    ry = rankdata(y.ravel())
    rx -= rx.mean()
    ry -= ry.mean()
    return float((rx @ ry) / math.sqrt((rx @ rx) * (ry @ ry)))


__all__ = [
    "OUTPUTS",
    "blur_image",
    "curve_auc",
    "deletion_auc",
    "deletion_aucs",
    "insertion_auc",
    "insertion_aucs",
    "occlusion_map",
    "perturbation_curve",
    "rank_correlation",
]
