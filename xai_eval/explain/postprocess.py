"""Post-processing that is explicit and shared: upsampling, channel reduction, normalisation.

Raw attributions stay signed; these functions turn them into non-negative maps and flag
degenerate ones (constant or all-zero) instead of returning NaN (pytorch-grad-cam #214,
torch-cam #156).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from xai_eval.errors import InputValidationError

REDUCTIONS = ("max_abs", "sum_abs", "l2", "sum_relu")


def upsample(maps: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    """Bilinear upsampling of (..., h, w) maps to ``size`` (align_corners=False)."""
    if tuple(maps.shape[-2:]) == tuple(size):
        return maps
    lead = maps.shape[:-2]
    flat = maps.reshape(-1, 1, *maps.shape[-2:])
    out = F.interpolate(flat.float(), size=size, mode="bilinear", align_corners=False)
    return out.reshape(*lead, *size)


def reduce_channels(attribution: torch.Tensor, how: str = "max_abs") -> torch.Tensor:
    """(..., C, H, W) input-space attribution -> (..., H, W) non-negative map.

    ``max_abs`` is Simonyan et al.'s rule (max over colour channels of |gradient|).
    """
    if how == "max_abs":
        return attribution.abs().amax(dim=-3)
    if how == "sum_abs":
        return attribution.abs().sum(dim=-3)
    if how == "l2":
        return attribution.pow(2).sum(dim=-3).sqrt()
    if how == "sum_relu":
        return attribution.sum(dim=-3).clamp(min=0)
    raise InputValidationError(f"unknown channel reduction {how!r}; choose one of {REDUCTIONS}")


def degenerate_mask(maps: torch.Tensor, rel_tol: float = 1e-12) -> torch.Tensor:
    """True where a (..., H, W) map is constant (all-zero included): it ranks no pixel."""
    flat = maps.reshape(*maps.shape[:-2], -1)
    hi = flat.amax(dim=-1)
    lo = flat.amin(dim=-1)
    scale = torch.maximum(hi.abs(), lo.abs()).clamp(min=torch.finfo(maps.dtype).tiny)
    return (hi - lo) <= rel_tol * scale


def normalize(maps: torch.Tensor, mode: str = "minmax") -> torch.Tensor:
    """Scale (..., H, W) maps to [0, 1] per map; a degenerate map becomes all zeros.

    ``mode="max"`` divides by the maximum (the CAM paper's rule before thresholding);
    ``"minmax"`` subtracts the minimum first (wsolevaluation's rule).
    """
    flat = maps.reshape(*maps.shape[:-2], -1).float()
    hi = flat.amax(dim=-1, keepdim=True)
    if mode == "minmax":
        flat = flat - flat.amin(dim=-1, keepdim=True)
        hi = flat.amax(dim=-1, keepdim=True)
    elif mode != "max":
        raise InputValidationError(f"unknown normalisation {mode!r}; choose 'max' or 'minmax'")
    safe = torch.where(hi > 0, hi, torch.ones_like(hi))
    out = torch.where(hi > 0, flat / safe, torch.zeros_like(flat))
    return out.reshape(maps.shape)
