"""Model-randomisation sanity check (Adebayo et al., "Sanity Checks for Saliency Maps", 2018).

An explanation that does not change when the model's weights are randomised is not
explaining the model. :func:`randomize_model` re-initialises the top ``depth`` layers of a
*copy* of the model (cascading randomisation: depth 1 = the logits layer, 2 = the logits
and the layer below, ...); :func:`map_similarity` compares the maps of the trained and the
randomised model with

- Spearman's rank correlation of absolute values (the paper's "rank correlation (ABS)");
- SSIM (``skimage.metrics.structural_similarity``) of the two maps after taking absolute
  values and dividing each by its maximum, so both lie in [0, 1] and ``data_range=1.0``;
  the window is 7x7 (skimage's default), shrunk to the largest odd size that fits maps
  smaller than that.

High similarity after randomisation is a failed sanity check.

Layers are the leaf modules that own parameters and a ``reset_parameters`` method, in
``model.modules()`` (registration) order; the top ones are the last. Normalisation layers
(BatchNorm, LayerNorm, GroupNorm) are skipped by default because their reset is the
identity, not a randomisation (``include_norm=True`` counts them). Re-initialisation uses
PyTorch's default initialiser of each layer under ``torch.manual_seed(seed)`` inside a
forked RNG, so the caller's global RNG state is untouched and the result is reproducible.
"""

from __future__ import annotations

import copy
from typing import Any

import numpy as np
import torch
import torch.nn as nn
from skimage.metrics import structural_similarity

from xai_eval.errors import InputValidationError
from xai_eval.metrics.faithfulness import rank_correlation
from xai_eval.metrics.shapes import as_saliency

_NORM_TYPES = (nn.modules.batchnorm._NormBase, nn.LayerNorm, nn.GroupNorm)


def randomizable_layers(model: nn.Module, include_norm: bool = False) -> list[tuple[str, nn.Module]]:
    """(name, module) of the layers :func:`randomize_model` can re-initialise, bottom first."""
    layers = []
    for name, module in model.named_modules():
        if next(module.children(), None) is not None:
            continue
        if not any(True for _ in module.parameters(recurse=False)):
            continue
        if not callable(getattr(module, "reset_parameters", None)):
            continue
        if not include_norm and isinstance(module, _NORM_TYPES):
            continue
        layers.append((name, module))
    return layers


def randomize_model(
    model: nn.Module, depth: int | str = 1, seed: int = 0, *, include_norm: bool = False
) -> nn.Module:
    """A deep copy of ``model`` with its top ``depth`` layers re-initialised (``"all"``: every
    layer). The original model is not modified."""
    layers = randomizable_layers(model, include_norm)
    if depth == "all":
        depth = len(layers)
    if not isinstance(depth, int) or depth < 1:
        raise InputValidationError(f"depth must be a positive integer or 'all', not {depth!r}")
    if depth > len(layers):
        raise InputValidationError(
            f"depth {depth} exceeds the model's {len(layers)} randomizable layers"
        )
    clone = copy.deepcopy(model)
    names = {name for name, _ in layers[-depth:]}
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        for name, module in clone.named_modules():
            if name in names:
                module.reset_parameters()
    return clone


def _unit_abs(saliency: np.ndarray) -> np.ndarray:
    absolute = np.abs(saliency)
    peak = float(absolute.max())
    return absolute / peak if peak > 0 else absolute


def ssim(a: Any, b: Any) -> float:
    """SSIM of ``|a| / max|a|`` and ``|b| / max|b|`` with ``data_range=1.0``."""
    x = _unit_abs(as_saliency(a, what="first map"))
    y = _unit_abs(as_saliency(b, x.shape, "resize", what="second map"))
    win = min(7, min(x.shape))
    if win % 2 == 0:
        win -= 1
    if win < 3:
        raise InputValidationError(f"maps of size {x.shape} are too small for SSIM (need >= 3x3)")
    return float(structural_similarity(x, y, data_range=1.0, win_size=win))


def map_similarity(trained: Any, randomized: Any) -> dict[str, float | None]:
    """Spearman (of absolute values; None if a map is constant) and SSIM of two maps."""
    return {
        "spearman_abs": rank_correlation(trained, randomized, absolute=True),
        "ssim": ssim(trained, randomized),
    }


__all__ = ["map_similarity", "randomizable_layers", "randomize_model", "ssim"]
