"""numba kernels of :mod:`xai_eval.metrics.components` (imported lazily, compiled once).

Layout: the level image is padded with a one-pixel border of level 0 (never foreground),
so a pixel's neighbours are fixed offsets with no bounds checks. Union-find with path
halving and union by size; a set's root holds the set's statistics in one row of
``stats``: pixel count, min/max row, min/max column (padded coordinates) and first pixel
(the smallest padded index, which orders pixels exactly as raster order does).

8-connectivity uses the ring trick: the 8 neighbours, taken around the ring NW N NE E SE
S SW W, are each 8-adjacent to the next, so consecutive ones that are already in are
already in one set — a new pixel joins one representative per run of the ring.

Buffers come from the caller (:class:`xai_eval.metrics.components.Workspace`) and are
reused: a fresh 3 MB of arrays per map costs more in page faults than the labelling.

The IoU arithmetic is written as :func:`xai_eval.metrics.boxes._pairwise_iou` computes it
(float64, same operations in the same order), so the results are bit-identical.
"""

from __future__ import annotations

import numpy as np
from numba import njit

SIZE, RMIN, RMAX, CMIN, CMAX, FIRST = 0, 1, 2, 3, 4, 5
N_STATS = 6


@njit(cache=True)
def count_at_or_below(values, sorted_thresholds, out):  # pragma: no cover - compiled
    """``out[i]`` = how many of the sorted thresholds are <= ``values[i]``.

    A guess from the first and last threshold (exact for an evenly spaced grid, close for
    any other) is corrected by stepping, so the answer is exact for any sorted array.
    """
    n_thr = sorted_thresholds.shape[0]
    lo_t = sorted_thresholds[0]
    hi_t = sorted_thresholds[n_thr - 1]
    scale = (n_thr - 1) / (hi_t - lo_t) if hi_t > lo_t else 0.0
    for i in range(values.shape[0]):
        v = values[i]
        if not v >= lo_t:  # below every threshold (or NaN)
            out[i] = 0
            continue
        guess = (v - lo_t) * scale
        k = int(guess) if guess < n_thr - 1 else n_thr - 1  # the last u_k <= v, roughly
        while k > 0 and sorted_thresholds[k] > v:
            k -= 1
        while k + 1 < n_thr and sorted_thresholds[k + 1] <= v:
            k += 1
        out[i] = k + 1


@njit(cache=True, inline="always")
def _find(parent, x):  # pragma: no cover - compiled
    while parent[x] != x:
        parent[x] = parent[parent[x]]
        x = parent[x]
    return x


@njit(cache=True, inline="always")
def _new_set(parent, stats, p, stride):  # pragma: no cover - compiled
    parent[p] = p
    row = p // stride
    col = p - row * stride
    stats[p, SIZE] = 1
    stats[p, RMIN] = row
    stats[p, RMAX] = row
    stats[p, CMIN] = col
    stats[p, CMAX] = col
    stats[p, FIRST] = p


@njit(cache=True, inline="always")
def _union(parent, stats, ra, b):  # pragma: no cover - compiled
    """Merge root ``ra``'s set with ``b``'s; return the root of the merged set."""
    rb = _find(parent, b)
    if ra == rb:
        return ra
    if stats[ra, SIZE] < stats[rb, SIZE]:
        ra, rb = rb, ra
    parent[rb] = ra
    stats[ra, SIZE] += stats[rb, SIZE]
    stats[ra, RMIN] = min(stats[ra, RMIN], stats[rb, RMIN])
    stats[ra, RMAX] = max(stats[ra, RMAX], stats[rb, RMAX])
    stats[ra, CMIN] = min(stats[ra, CMIN], stats[rb, CMIN])
    stats[ra, CMAX] = max(stats[ra, CMAX], stats[rb, CMAX])
    stats[ra, FIRST] = min(stats[ra, FIRST], stats[rb, FIRST])
    return ra


@njit(cache=True, inline="always")
def _best_iou(x1, y1, x2, y2, gt):  # pragma: no cover - compiled
    """max over ground-truth boxes of the IoU with box (x1, y1, x2, y2); as _pairwise_iou."""
    best = 0.0
    area_a = (x2 - x1 + 0.0) * (y2 - y1 + 0.0)
    for g in range(gt.shape[0]):
        ix1 = max(x1, gt[g, 0])
        iy1 = max(y1, gt[g, 1])
        ix2 = min(x2, gt[g, 2])
        iy2 = min(y2, gt[g, 3])
        iw = max(ix2 - ix1 + 0.0, 0.0)
        ih = max(iy2 - iy1 + 0.0, 0.0)
        inter = iw * ih
        area_b = (gt[g, 2] - gt[g, 0] + 0.0) * (gt[g, 3] - gt[g, 1] + 0.0)
        union = area_a + area_b - inter
        iou = inter / union if union > 0 else 0.0
        if g == 0 or iou > best:
            best = iou
    return best


@njit(cache=True)
def _pad(levels, height, width, padded):  # pragma: no cover - compiled
    """Copy the (height, width) image into ``padded`` with a border of zeros; reset parents."""
    stride = width + 2
    n = (height + 2) * stride
    padded[:stride] = 0
    padded[n - stride:n] = 0
    for r in range(height):
        base = (r + 1) * stride
        padded[base] = 0
        padded[base + width + 1] = 0
        for c in range(width):
            padded[base + 1 + c] = levels[r * width + c]


def _representatives(eight: bool) -> np.ndarray:
    """Row ``bits`` (which neighbours are in): how many neighbours the new pixel must join,
    then which. 8-connectivity: one per run of set bits around the ring (all 8 set: one
    run, from 0). 4-connectivity: every set bit (the 4 neighbours never touch)."""
    width = 8 if eight else 4
    table = np.zeros((1 << width, 5), dtype=np.int64)
    for bits in range(1 << width):
        if eight and bits == 255:
            picks = [0]
        elif eight:
            previous = ((bits << 1) | (bits >> 7)) & 255  # bit j: neighbour j - 1 is in
            picks = [j for j in range(8) if bits & ~previous & (1 << j)]
        else:
            picks = [j for j in range(4) if bits & (1 << j)]
        table[bits, 0] = len(picks)
        table[bits, 1:1 + len(picks)] = picks
    return table


_REPS_8 = _representatives(True)
_REPS_4 = _representatives(False)


@njit(cache=True, inline="always")
def _join(parent, stats, root, p, stride):  # pragma: no cover - compiled
    """Add the new pixel ``p`` to the set of ``root``."""
    parent[p] = root
    row = p // stride
    col = p - row * stride
    stats[root, SIZE] += 1
    stats[root, RMIN] = min(stats[root, RMIN], row)
    stats[root, RMAX] = max(stats[root, RMAX], row)
    stats[root, CMIN] = min(stats[root, CMIN], col)
    stats[root, CMAX] = max(stats[root, CMAX], col)
    stats[root, FIRST] = min(stats[root, FIRST], p)


@njit(cache=True)
def sweep_thresholds(levels, height, width, n_levels, eight, gt, padded, parent, stats, order,
                     alive, iou, dirty):  # pragma: no cover - compiled
    """Per threshold index k < n_levels: (best IoU over all components, IoU of the largest).

    ``levels[p]`` in 0..n_levels; pixel p is foreground at k iff k < levels[p]. Pixels
    are added from level n_levels down to 1; after level l the sets are the components of
    threshold index l - 1.
    """
    stride = width + 2
    n = (height + 2) * stride
    _pad(levels, height, width, padded)
    parent[:n] = -1
    if eight:
        ring = np.array([-stride - 1, -stride, -stride + 1, 1, stride + 1, stride, stride - 1,
                         -1])
        reps = _REPS_8
    else:
        ring = np.array([-stride, 1, stride, -1])
        reps = _REPS_4
    n_neighbours = ring.shape[0]
    # counting sort: pixels by level, highest first, raster order within a level
    counts = np.zeros(n_levels + 1, dtype=np.int64)
    for p in range(n):
        counts[padded[p]] += 1
    start = np.empty(n_levels + 1, dtype=np.int64)
    pos = 0
    for lev in range(n_levels, -1, -1):
        start[lev] = pos
        pos += counts[lev]
    fill = start.copy()
    for p in range(n):
        lev = padded[p]
        order[fill[lev]] = p
        fill[lev] += 1

    n_alive = 0  # the pixels that started a set; the roots are among them
    best_all = np.zeros(n_levels, dtype=np.float64)
    best_largest = np.zeros(n_levels, dtype=np.float64)
    for lev in range(n_levels, 0, -1):
        k = lev - 1
        if counts[lev] == 0:  # nothing new: the components of k + 1 (none above the top)
            if k + 1 < n_levels:
                best_all[k] = best_all[k + 1]
                best_largest[k] = best_largest[k + 1]
            continue
        for i in range(start[lev], start[lev] + counts[lev]):
            p = order[i]
            bits = 0
            for j in range(n_neighbours):
                if parent[p + ring[j]] != -1:
                    bits |= 1 << j
            if bits == 0:
                _new_set(parent, stats, p, stride)
                dirty[p] = 1
                alive[n_alive] = p
                n_alive += 1
                continue
            # neighbours already in touch each other within a run: join one of each run
            root = _find(parent, p + ring[reps[bits, 1]])
            _join(parent, stats, root, p, stride)
            for r in range(1, reps[bits, 0]):
                root = _union(parent, stats, root, p + ring[reps[bits, 1 + r]])
            dirty[root] = 1
        kept = 0
        best = 0.0
        largest = -1
        for j in range(n_alive):
            a = alive[j]
            if parent[a] != a:
                continue
            alive[kept] = a
            kept += 1
            if dirty[a]:  # box in image coordinates: padded minus the one-pixel border
                iou[a] = _best_iou(float(stats[a, CMIN] - 1), float(stats[a, RMIN] - 1),
                                   float(stats[a, CMAX]), float(stats[a, RMAX]), gt)
                dirty[a] = 0
            if iou[a] > best:
                best = iou[a]
            if largest < 0 or stats[a, SIZE] > stats[largest, SIZE] or (
                    stats[a, SIZE] == stats[largest, SIZE]
                    and stats[a, FIRST] < stats[largest, FIRST]):
                largest = a
        n_alive = kept
        best_all[k] = best
        best_largest[k] = iou[largest]
    return best_all, best_largest


@njit(cache=True)
def label_components(binary, height, width, eight, padded, parent, stats, roots
                     ):  # pragma: no cover - compiled
    """(boxes (K, 4) float64 xyxy exclusive, sizes (K,)) of the components of a binary
    mask, in order of their first pixel (one raster pass)."""
    stride = width + 2
    n = (height + 2) * stride
    _pad(binary, height, width, padded)
    parent[:n] = -1
    for row in range(1, height + 1):
        for col in range(1, width + 1):
            p = row * stride + col
            if padded[p] == 0:
                continue
            _new_set(parent, stats, p, stride)
            root = p
            north, west = p - stride, p - 1
            if eight:
                # N touches NW, NE and W; W touches NW: only NE and W/NW can be apart
                if parent[north] != -1:
                    root = _union(parent, stats, root, north)
                else:
                    if parent[west] != -1:
                        root = _union(parent, stats, root, west)
                    elif parent[north - 1] != -1:
                        root = _union(parent, stats, root, north - 1)
                    if parent[north + 1] != -1:
                        root = _union(parent, stats, root, north + 1)
            else:
                if parent[north] != -1:
                    root = _union(parent, stats, root, north)
                if parent[west] != -1:
                    root = _union(parent, stats, root, west)
    # label order = order of first pixels: the first time a pixel of each set is met
    n_labels = 0
    for p in range(n):
        if parent[p] != -1:
            r = _find(parent, p)
            if stats[r, FIRST] == p:
                roots[n_labels] = r
                n_labels += 1
    boxes = np.empty((n_labels, 4), dtype=np.float64)
    sizes = np.empty(n_labels, dtype=np.int64)
    for i in range(n_labels):
        r = roots[i]
        boxes[i, 0] = float(stats[r, CMIN] - 1)
        boxes[i, 1] = float(stats[r, RMIN] - 1)
        boxes[i, 2] = float(stats[r, CMAX])
        boxes[i, 3] = float(stats[r, RMAX])
        sizes[i] = stats[r, SIZE]
    return boxes, sizes
