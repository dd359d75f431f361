"""The map-only metrics in torch, on the map's own device (the GPU path).

A suite on a GPU produces its maps there; copying every map to the CPU and scoring it
with numpy would bind the run to the CPU. The functional forms
(:func:`~xai_eval.metrics.pointing.pointing_hit`,
:func:`~xai_eval.metrics.pointing.energy_in_region`,
:func:`~xai_eval.metrics.masks.mask_overlap`,
:func:`~xai_eval.metrics.wsol.pixel_histograms`,
:func:`~xai_eval.metrics.wsol.best_ious_per_threshold`) send a map that lives on an
accelerator here; CPU maps keep the numpy path, which is the reference.

Same rules, same numbers: maps become float64 on the device and are normalised with the
same operations, so thresholds, counts, maxima and distances are bit-identical to the
numpy path. Sums (the energy pointing game) are reduced in another order and agree to
~1e-15 relative. The box metrics' union-find stays on the CPU, fed with the integer
threshold levels computed here (a few bytes per pixel cross the bus, not a map).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from xai_eval.errors import InputValidationError
from xai_eval.metrics.shapes import NORMALIZATIONS, SIZE_MISMATCH, as_mask


def on_accelerator(value: Any) -> bool:
    """Is ``value`` a tensor on a device other than the CPU (where the numpy path is)?"""
    return isinstance(value, torch.Tensor) and value.device.type != "cpu"


def device_saliency(saliency: torch.Tensor, size: tuple[int, int] | None = None,
                    on_size_mismatch: str = "resize", what: str = "saliency") -> torch.Tensor:
    """:func:`~xai_eval.metrics.shapes.as_saliency`'s rules for a tensor left on its device:
    one finite float64 (H, W) map, resized bilinearly (``align_corners=False``) if allowed."""
    values = saliency.detach()
    if values.dim() == 4 and values.shape[0] == 1 and values.shape[1] == 1:
        values = values[0, 0]
    elif values.dim() == 3 and values.shape[0] == 1:
        values = values[0]
    elif values.dim() == 3 and values.shape[-1] == 1:
        values = values[..., 0]
    if values.dim() != 2 or values.numel() == 0:
        raise InputValidationError(f"{what} must be one non-empty (H, W) map; got "
                                   f"{tuple(saliency.shape)}")
    values = values.double()
    if not bool(torch.isfinite(values).all()):
        raise InputValidationError(f"{what} contains NaN or Inf; the explainer produced an "
                                   "invalid map — fix it upstream")
    if size is not None and tuple(values.shape) != tuple(size):
        if on_size_mismatch not in SIZE_MISMATCH:
            raise InputValidationError(
                f"on_size_mismatch must be one of {SIZE_MISMATCH}, not {on_size_mismatch!r}")
        if on_size_mismatch == "error":
            raise InputValidationError(
                f"{what} has size {tuple(values.shape)} but the ground truth is {tuple(size)}; "
                "resize the map to the image size, or pass on_size_mismatch='resize'")
        values = F.interpolate(values[None, None], size=tuple(size), mode="bilinear",
                               align_corners=False)[0, 0]
    return values


def device_mask(mask: Any, device: torch.device, size: tuple[int, int] | None = None
                ) -> torch.Tensor:
    """A ground-truth mask as a bool (H, W) tensor on ``device`` (the numpy path's rules)."""
    return torch.from_numpy(as_mask(mask, size)).to(device)


def is_constant(saliency: torch.Tensor, rel_tol: float = 1e-12) -> bool:
    """:func:`~xai_eval.metrics.shapes.is_constant` on the device."""
    hi, lo = float(saliency.max()), float(saliency.min())
    scale = max(abs(hi), abs(lo), np.finfo(np.float64).tiny)
    return bool((hi - lo) <= rel_tol * scale)


def normalize_map(saliency: torch.Tensor, normalization: str = "max") -> torch.Tensor:
    """:func:`~xai_eval.metrics.shapes.normalize_map` on the device (same operations)."""
    if normalization not in NORMALIZATIONS:
        raise InputValidationError(
            f"normalization must be one of {NORMALIZATIONS}, not {normalization!r}")
    if normalization == "max":
        saliency = saliency.clamp(min=0.0)
        hi = float(saliency.max())
        if hi <= 0.0 or is_constant(saliency):
            return torch.zeros_like(saliency)
        return saliency / hi
    if is_constant(saliency):
        return torch.zeros_like(saliency)
    lo, hi = float(saliency.min()), float(saliency.max())
    return (saliency - lo) / (hi - lo)


def pointing_hit(saliency: torch.Tensor, mask: torch.Tensor, tolerance: float, tie: str,
                 tie_tolerance: float = 0.0) -> bool | None:
    """The pointing game on the device (rules: :func:`xai_eval.metrics.pointing.pointing_hit`)."""
    if not bool(mask.any()):
        return None
    if is_constant(saliency):
        return False
    hi = saliency.max()
    if tie_tolerance <= 0:
        points = torch.nonzero(saliency == hi)  # (K, 2), raster order
    else:
        scale = max(abs(float(hi)), abs(float(saliency.min())))
        points = torch.nonzero(saliency >= float(hi) - tie_tolerance * scale)
    if tie == "first":
        points = points[:1]
    targets = torch.nonzero(mask)  # (M, 2)
    limit = float(tolerance) ** 2
    hits = []
    for chunk in points.split(max(1, 2 ** 22 // max(len(targets), 1))):
        d2 = ((chunk[:, None, :] - targets[None]) ** 2).sum(-1)  # exact integers
        hits.append((d2.double() < limit).any(dim=1))
    hit = torch.cat(hits)
    return bool(hit.any()) if tie == "any" else bool(hit.all())


def energy_in_region(saliency: torch.Tensor, mask: torch.Tensor,
                     keep: torch.Tensor | None = None) -> float | None:
    """Share of the rectified map's mass in the region (rules: the numpy path)."""
    if keep is not None:
        mask = mask & keep
    if not bool(mask.any()):
        return None
    saliency = saliency.clamp(min=0.0)
    if keep is not None:
        saliency = saliency * keep
    total = float(saliency.sum())
    if total <= 0.0:
        return 0.0
    return float(saliency[mask].sum() / total)


def mask_overlap(saliency: torch.Tensor, mask: torch.Tensor, threshold: float,
                 normalization: str, keep: torch.Tensor | None = None) -> tuple[int, int]:
    """(intersection, union) of ``normalised map >= threshold`` and the mask (within ``keep``)."""
    predicted = normalize_map(saliency, normalization) >= threshold
    inter, union = predicted & mask, predicted | mask
    if keep is not None:
        inter, union = inter & keep, union & keep
    return int(inter.sum()), int(union.sum())


def pixel_histograms(saliency: torch.Tensor, mask: torch.Tensor, levels: np.ndarray,
                     normalization: str, keep: torch.Tensor | None = None
                     ) -> tuple[np.ndarray, np.ndarray]:
    """PxAP's per-level foreground/background pixel counts (rules: the numpy path)."""
    normalized = normalize_map(saliency, normalization).reshape(-1)
    grid = torch.as_tensor(levels, dtype=torch.float64, device=normalized.device)
    bins = (torch.searchsorted(grid, normalized, right=True) - 1).clamp(0, len(levels) - 1)
    flat = mask.reshape(-1)
    background = ~flat
    if keep is not None:
        flat, background = flat & keep.reshape(-1), background & keep.reshape(-1)
    pos = torch.bincount(bins[flat], minlength=len(levels))
    neg = torch.bincount(bins[background], minlength=len(levels))
    return pos.cpu().numpy().astype(np.int64), neg.cpu().numpy().astype(np.int64)


def threshold_levels(normalized: torch.Tensor, sorted_thresholds: np.ndarray) -> np.ndarray:
    """How many of the sorted thresholds each pixel reaches, computed on the device and
    handed to the CPU as int32 (the component tree's input)."""
    grid = torch.as_tensor(sorted_thresholds, dtype=torch.float64, device=normalized.device)
    levels = torch.searchsorted(grid, normalized.reshape(-1).contiguous(), right=True)
    return levels.to(torch.int32).cpu().numpy()


__all__ = ["device_mask", "device_saliency", "energy_in_region", "is_constant",
           "mask_overlap", "normalize_map", "on_accelerator", "pixel_histograms",
           "pointing_hit", "threshold_levels"]
