"""Lenient input for metrics: maps, masks and boxes in the shapes users actually have.

Every metric function funnels its inputs through here, so the rules live in one place:

- **Saliency maps** are accepted as ``(H, W)``, ``(1, H, W)``, ``(H, W, 1)`` or
  ``(1, 1, H, W)``, as a torch tensor, numpy array or nested list, and come back as a
  float64 numpy ``(H, W)`` array. NaN or Inf is refused with a clear error (a NaN map is a
  bug upstream, never a score). A map of the wrong size is either resized (bilinear,
  ``align_corners=False``, the same rule the explainers use to upsample) or refused,
  chosen by ``on_size_mismatch``.
- **Masks** are accepted as ``(H, W)``, ``(1, H, W)``, ``(N, H, W)``, ``(N, 1, H, W)`` or
  ``(N, H, W, 1)``; a leading ``N`` is a stack of instance masks of the *same* class and is
  merged by union (one image is scored at a time). Any non-zero value is foreground.
- **Boxes** are accepted as one box ``(4,)`` or many ``(N, 4)``, lists or tensors, in
  ``box_format="xyxy"`` (default) or COCO ``"xywh"``.

Pixel convention (used by every box function in xai-eval): coordinates are continuous,
pixel ``(row i, column j)`` covers ``[j, j+1) x [i, i+1)``. A box ``xyxy`` therefore covers
the pixels whose centre ``(j + 0.5, i + 0.5)`` lies inside it, and a box spanning columns
``a..b`` inclusive is ``x1=a, x2=b+1`` with width ``x2 - x1`` (the "exclusive" convention
of torchvision). PASCAL VOC's 1-based inclusive ``xmin..xmax`` becomes ``x1 = xmin - 1,
x2 = xmax``.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from xai_eval.errors import InputValidationError

BOX_FORMATS = ("xyxy", "xywh")
SIZE_MISMATCH = ("resize", "error")
NORMALIZATIONS = ("max", "minmax")


def to_numpy(value: Any, what: str) -> np.ndarray:
    """Torch tensor / numpy array / nested list -> numpy array (on the CPU, detached)."""
    if isinstance(value, torch.Tensor):
        return value.detach().cpu().numpy()
    if isinstance(value, np.ndarray):
        return value
    try:
        return np.asarray(value)
    except Exception as exc:  # pragma: no cover - numpy accepts almost anything
        raise InputValidationError(f"{what} must be an array-like, not {type(value).__name__}") from exc


def resize_map(saliency: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """Bilinear resize of an (h, w) map to ``size`` = (H, W), ``align_corners=False``."""
    tensor = torch.from_numpy(np.ascontiguousarray(saliency, dtype=np.float64))[None, None]
    out = F.interpolate(tensor, size=tuple(size), mode="bilinear", align_corners=False)
    return out[0, 0].numpy()


def as_saliency(
    saliency: Any,
    size: tuple[int, int] | None = None,
    on_size_mismatch: str = "resize",
    what: str = "saliency",
) -> np.ndarray:
    """One saliency map as a finite float64 ``(H, W)`` array (see the module docstring).

    ``size`` is the expected (H, W), usually the ground truth's; ``on_size_mismatch``
    ``"resize"`` resizes bilinearly, ``"error"`` refuses.
    """
    arr = to_numpy(saliency, what)
    if arr.dtype == bool:
        arr = arr.astype(np.float64)
    if not np.issubdtype(arr.dtype, np.number):
        raise InputValidationError(f"{what} must be numeric, got dtype {arr.dtype}")
    shape = arr.shape
    if arr.ndim == 4 and shape[0] == 1 and shape[1] == 1:
        arr = arr[0, 0]
    elif arr.ndim == 3 and shape[0] == 1:
        arr = arr[0]
    elif arr.ndim == 3 and shape[-1] == 1:
        arr = arr[..., 0]
    if arr.ndim != 2:
        raise InputValidationError(
            f"{what} must be one map of shape (H, W), (1, H, W), (H, W, 1) or (1, 1, H, W); "
            f"got {shape}. Score a batch one map at a time (or index the class axis first)"
        )
    if arr.size == 0:
        raise InputValidationError(f"{what} is empty (shape {shape})")
    arr = arr.astype(np.float64, copy=False)
    if not np.isfinite(arr).all():
        raise InputValidationError(
            f"{what} contains NaN or Inf; the explainer produced an invalid map — fix it "
            "upstream (xai-eval never scores a NaN map)"
        )
    if size is not None and tuple(arr.shape) != tuple(size):
        if on_size_mismatch == "error":
            raise InputValidationError(
                f"{what} has size {tuple(arr.shape)} but the ground truth is {tuple(size)}; "
                "resize the map to the image size, or pass on_size_mismatch='resize'"
            )
        if on_size_mismatch != "resize":
            raise InputValidationError(
                f"on_size_mismatch must be one of {SIZE_MISMATCH}, not {on_size_mismatch!r}"
            )
        arr = resize_map(arr, size)
    return arr


def as_mask(mask: Any, size: tuple[int, int] | None = None, what: str = "gt_mask") -> np.ndarray:
    """One image's ground-truth mask as a bool ``(H, W)`` array; instance stacks are unioned."""
    arr = to_numpy(mask, what)
    if arr.dtype != bool:
        if not np.issubdtype(arr.dtype, np.number):
            raise InputValidationError(f"{what} must be numeric or bool, got dtype {arr.dtype}")
        if not np.isfinite(arr).all():
            raise InputValidationError(f"{what} contains NaN or Inf")
        arr = arr != 0
    shape = arr.shape
    if arr.ndim == 4:
        if shape[1] == 1:
            arr = arr[:, 0]
        elif shape[-1] == 1:
            arr = arr[..., 0]
        else:
            raise InputValidationError(
                f"{what} of rank 4 must be (N, 1, H, W) or (N, H, W, 1); got {shape}"
            )
    elif (
        arr.ndim == 3 and shape[-1] == 1 and shape[0] != 1
        and (size is None or tuple(shape[1:]) != tuple(size))
    ):
        # (H, W, 1) unless the caller's size says it is (N, H, W) with W == 1
        arr = arr[..., 0]
    if arr.ndim == 3:
        arr = arr.any(axis=0)
    if arr.ndim != 2:
        raise InputValidationError(
            f"{what} must be (H, W), (1, H, W), (N, H, W), (N, 1, H, W) or (N, H, W, 1); "
            f"got {shape}"
        )
    if size is not None and tuple(arr.shape) != tuple(size):
        raise InputValidationError(
            f"{what} has size {tuple(arr.shape)} but {tuple(size)} was expected; masks are "
            "never resized silently — build them at the image's (model input) resolution"
        )
    return arr


def as_boxes(boxes: Any, box_format: str = "xyxy", what: str = "gt_boxes") -> np.ndarray:
    """Boxes as a float64 ``(N, 4)`` xyxy array (N may be 0)."""
    if box_format not in BOX_FORMATS:
        raise InputValidationError(f"box_format must be one of {BOX_FORMATS}, not {box_format!r}")
    if boxes is None:
        return np.zeros((0, 4))
    arr = to_numpy(boxes, what)
    if arr.size == 0:
        return np.zeros((0, 4))
    arr = arr.astype(np.float64)
    if arr.ndim == 1:
        arr = arr[None]
    if arr.ndim != 2 or arr.shape[1] != 4:
        raise InputValidationError(
            f"{what} must be one box (4,) or a list of boxes (N, 4) in {box_format}; got shape "
            f"{tuple(to_numpy(boxes, what).shape)}"
        )
    if not np.isfinite(arr).all():
        raise InputValidationError(f"{what} contain NaN or Inf")
    if box_format == "xywh":
        if (arr[:, 2:] < 0).any():
            raise InputValidationError(f"{what} (xywh) have a negative width or height")
        arr = np.concatenate([arr[:, :2], arr[:, :2] + arr[:, 2:]], axis=1)
    elif (arr[:, 2] < arr[:, 0]).any() or (arr[:, 3] < arr[:, 1]).any():
        raise InputValidationError(
            f"{what} have x2 < x1 or y2 < y1; are they COCO xywh? pass box_format='xywh'"
        )
    return arr


def boxes_to_mask(boxes: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """Union of xyxy boxes as a bool (H, W) mask: pixels whose centre lies inside a box."""
    height, width = size
    mask = np.zeros((height, width), dtype=bool)
    for x1, y1, x2, y2 in boxes:
        # centre j + 0.5 in [x1, x2)  <=>  j in [ceil(x1 - 0.5), ceil(x2 - 0.5))
        c0, c1 = int(np.ceil(x1 - 0.5)), int(np.ceil(x2 - 0.5))
        r0, r1 = int(np.ceil(y1 - 0.5)), int(np.ceil(y2 - 0.5))
        mask[max(r0, 0):max(min(r1, height), 0), max(c0, 0):max(min(c1, width), 0)] = True
    return mask


def gt_region(
    size: tuple[int, int],
    gt_mask: Any = None,
    gt_boxes: Any = None,
    box_format: str = "xyxy",
) -> np.ndarray:
    """The ground-truth region as a bool mask: ``gt_mask`` if given, else the union of boxes."""
    if gt_mask is not None:
        return as_mask(gt_mask, size)
    if gt_boxes is None:
        raise InputValidationError("give a ground-truth mask or boxes")
    return boxes_to_mask(as_boxes(gt_boxes, box_format), size)


def is_constant(saliency: np.ndarray, rel_tol: float = 1e-12) -> bool:
    """True for a map that ranks no pixel (constant, all-zero included)."""
    hi, lo = float(saliency.max()), float(saliency.min())
    scale = max(abs(hi), abs(lo), np.finfo(np.float64).tiny)
    return bool((hi - lo) <= rel_tol * scale)


def normalize_map(saliency: np.ndarray, normalization: str = "max") -> np.ndarray:
    """Scale a map to [0, 1]; a constant map (all-zero included) becomes all zeros.

    ``"max"``: ``s / max(s)`` after clipping negatives to 0 (the CAM paper's rule: the
    threshold is a fraction of the maximum). ``"minmax"``: ``(s - min) / (max - min)``
    (wsolevaluation's rule). A constant map carries no location, so it maps to zeros and
    any threshold > 0 selects nothing — a defined result, never NaN.
    """
    if normalization not in NORMALIZATIONS:
        raise InputValidationError(
            f"normalization must be one of {NORMALIZATIONS}, not {normalization!r}"
        )
    if normalization == "max":
        saliency = np.clip(saliency, 0.0, None)
        hi = float(saliency.max())
        if hi <= 0.0 or is_constant(saliency):
            return np.zeros_like(saliency)
        return saliency / hi
    if is_constant(saliency):
        return np.zeros_like(saliency)
    lo, hi = float(saliency.min()), float(saliency.max())
    return (saliency - lo) / (hi - lo)
