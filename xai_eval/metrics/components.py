"""Connected components of a map at every threshold in one pass (a component tree).

MaxBoxAcc sweeps ~100 thresholds, and labelling the foreground anew at each one
(``scipy.ndimage.label`` plus per-label extents) costs ~0.4 ms a threshold on a 224x224
map. The foregrounds are nested — ``map >= tau`` only grows as ``tau`` falls — so one
union-find over the pixels, added from the highest level down, passes through the
components of every threshold in turn: after the pixels of level ``l`` are in, the sets
are exactly the components of threshold ``l - 1``. Each set carries its bounding box,
pixel count and first pixel (in raster order), so every threshold's boxes come for free.

The kernels are compiled with numba (``cache=True``: compiled once per machine, then
loaded). They reproduce the per-threshold labelling bit for bit — the same components,
the same boxes, the same IoU arithmetic in float64, the same tie rule (equally large
components: the one whose first pixel comes first in raster order, which is
``scipy.ndimage.label``'s order) — and the tests check that against the labelling code on
thousands of random maps with ties and plateaus.

Pixel levels: for sorted unique thresholds ``u``, ``level[p]`` is the number of ``u_k <=
value[p]``, so pixel ``p`` is foreground at threshold index ``k`` iff ``k < level[p]``.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from functools import cache
from typing import Any

import numpy as np

from xai_eval.errors import InputValidationError

CONNECTIVITIES = (4, 8)


def check_connectivity(connectivity: int) -> None:
    """Refuse anything but 4- or 8-connectivity (the two the box rules use)."""
    if connectivity not in CONNECTIVITIES:
        raise InputValidationError(f"connectivity must be 4 or 8, not {connectivity}")


@cache
def _kernels() -> Any:
    """Compile (or load from numba's cache) the kernels on first use.

    Imported lazily so that commands which never score a box (``xai-eval --help``,
    ``xai-eval plugins``) do not pay for importing numba.
    """
    from xai_eval.metrics import _component_kernels

    return _component_kernels


class Workspace(threading.local):
    """Buffers the kernels reuse from map to map (one set per thread).

    Allocating ~3 MB of fresh arrays for every 224x224 map costs more in page faults than
    the labelling itself; these grow to the largest map seen and stay.
    """

    def __init__(self) -> None:
        self.capacity = 0

    def buffers(self, height: int, width: int) -> dict[str, np.ndarray]:
        """Buffers for a (height, width) map: padded level image, parents, set stats, ..."""
        needed = (height + 2) * (width + 2)
        if needed > self.capacity:
            self.capacity = max(needed, 2 * self.capacity)
            n = self.capacity
            self.padded = np.zeros(n, dtype=np.int32)
            self.parent = np.zeros(n, dtype=np.int32)
            self.stats = np.zeros((n, 6), dtype=np.int32)
            self.order = np.zeros(n, dtype=np.int32)
            self.alive = np.zeros(n, dtype=np.int32)
            self.iou = np.zeros(n, dtype=np.float64)
            self.dirty = np.zeros(n, dtype=np.uint8)
            self.levels = np.zeros(n, dtype=np.int32)
        return {"levels": self.levels, "padded": self.padded, "parent": self.parent, "stats": self.stats,
                "order": self.order, "alive": self.alive, "iou": self.iou, "dirty": self.dirty}


_WORKSPACE = Workspace()


def pixel_levels_of(normalized: np.ndarray, thresholds: np.ndarray) -> np.ndarray:
    """``level[p]`` = the number of sorted ``thresholds`` that are ``<= normalized[p]`` (int32)."""
    flat = np.ascontiguousarray(normalized, dtype=np.float64).ravel()
    out = np.empty(flat.size, dtype=np.int32)
    _kernels().count_at_or_below(flat, np.ascontiguousarray(thresholds, dtype=np.float64), out)
    return out


def sweep_best_ious(
    normalized: np.ndarray,
    gt_boxes: np.ndarray,
    thresholds: np.ndarray,
    connectivity: int = 8,
) -> tuple[np.ndarray, np.ndarray]:
    """Best IoU with a ground-truth box at each threshold, for all components and the largest.

    Args:
        normalized: the (H, W) map, already normalised (float64).
        gt_boxes: validated (G >= 1, 4) xyxy float64 boxes.
        thresholds: any 1-D float array (unsorted and repeated values are fine).
        connectivity: 4 or 8.

    Returns:
        ``(best_all, best_largest)``, float64 arrays shaped like ``thresholds``: at each
        threshold the best IoU over the boxes of all components of ``normalized >= tau``
        (0 when nothing passes), and the IoU of the largest component's box.
    """
    flat = np.ascontiguousarray(normalized, dtype=np.float64).ravel()

    def levels_of(unique: np.ndarray) -> np.ndarray:
        out = _WORKSPACE.buffers(*normalized.shape)["levels"][:flat.size]
        _kernels().count_at_or_below(flat, unique, out)
        return out

    return sweep_best_ious_from_levels(levels_of, normalized.shape, gt_boxes, thresholds,
                                       connectivity)


def sweep_best_ious_from_levels(
    levels_of: Callable[[np.ndarray], np.ndarray],
    shape: tuple[int, int],
    gt_boxes: np.ndarray,
    thresholds: np.ndarray,
    connectivity: int = 8,
) -> tuple[np.ndarray, np.ndarray]:
    """:func:`sweep_best_ious` from the pixel levels instead of the map.

    ``levels_of(sorted_unique_thresholds)`` returns each pixel's level (int32, raster
    order) — computed wherever the map lives (:func:`xai_eval.metrics.device.threshold_levels`
    on a GPU).
    """
    check_connectivity(connectivity)
    thresholds = np.asarray(thresholds, dtype=np.float64).reshape(-1)
    if thresholds.size == 0:
        return np.zeros(0), np.zeros(0)
    unique, inverse = np.unique(thresholds, return_inverse=True)
    height, width = shape
    levels = np.ascontiguousarray(levels_of(unique), dtype=np.int32)
    gt = np.ascontiguousarray(gt_boxes, dtype=np.float64).reshape(-1, 4)
    work = _WORKSPACE.buffers(height, width)
    best_all, best_largest = _kernels().sweep_thresholds(
        levels, height, width, len(unique), connectivity == 8, gt, work["padded"],
        work["parent"], work["stats"], work["order"], work["alive"], work["iou"], work["dirty"])
    return best_all[inverse], best_largest[inverse]


def label_boxes(binary: np.ndarray, connectivity: int = 8) -> tuple[np.ndarray, np.ndarray]:
    """Boxes (K, 4, xyxy exclusive, float64) and pixel counts (K,) of a binary mask's
    connected components, ordered by their first pixel in raster order (scipy's label
    order)."""
    check_connectivity(connectivity)
    binary = np.asarray(binary, dtype=bool)
    if binary.ndim != 2:
        raise InputValidationError(f"a binary mask must be (H, W), not {binary.shape}")
    height, width = binary.shape
    flat = np.ascontiguousarray(binary).ravel().view(np.uint8)
    work = _WORKSPACE.buffers(height, width)
    return _kernels().label_components(flat, height, width, connectivity == 8, work["padded"],
                                       work["parent"], work["stats"], work["order"])


__all__ = ["CONNECTIVITIES", "Workspace", "check_connectivity", "label_boxes", "pixel_levels_of",
           "sweep_best_ious", "sweep_best_ious_from_levels"]
