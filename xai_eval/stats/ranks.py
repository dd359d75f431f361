"""Ranks with ties, the compact letter display, and the two rank correlations.

A verdict ranks explainers per metric; where two are not significantly different they
must share a letter rather than appear ordered. The compact letter display (Piepho 2004,
insert-and-absorb) turns "which pairs differ" into letters: two items that share a letter
are not significantly different.
"""

from __future__ import annotations

from collections.abc import Hashable, Iterable, Sequence
from string import ascii_lowercase

import numpy as np

from xai_eval.errors import InputValidationError


def rank_with_ties(scores: Sequence[float], higher_is_better: bool = True) -> list[float]:
    """Rank 1 = best; tied scores share their average rank (``scipy.stats.rankdata``).

    None/NaN scores get NaN ranks and do not occupy a place.
    """
    values = np.array([np.nan if s is None else float(s) for s in scores], dtype=float)
    out = np.full(values.size, np.nan)
    finite = np.flatnonzero(np.isfinite(values))
    keyed = -values[finite] if higher_is_better else values[finite]
    order = np.argsort(keyed, kind="stable")
    sorted_keys = keyed[order]
    start = 0
    while start < order.size:
        stop = start
        while stop + 1 < order.size and sorted_keys[stop + 1] == sorted_keys[start]:
            stop += 1
        out[finite[order[start:stop + 1]]] = (start + stop) / 2 + 1
        start = stop + 1
    return out.tolist()


def compact_letter_display(items: Sequence[Hashable],
                           different: Iterable[tuple[Hashable, Hashable]]) -> dict[Hashable, str]:
    """Letters per item (``items`` best first): items sharing a letter do not differ.

    Insert-and-absorb: start from one group of all items; every significant pair splits
    each group holding both into the group without one and the group without the other;
    groups contained in another are absorbed. Letters go to groups in the order of their
    best member, so the top group is ``a``.
    """
    order = {item: position for position, item in enumerate(items)}
    if len(order) != len(items):
        raise InputValidationError("compact_letter_display needs distinct items")
    groups: list[frozenset[Hashable]] = [frozenset(items)] if items else []
    for first, second in different:
        if first not in order or second not in order:
            raise InputValidationError(f"unknown item in pair ({first!r}, {second!r})")
        split: list[frozenset[Hashable]] = []
        for group in groups:
            if first in group and second in group:
                split.extend([group - {first}, group - {second}])
            else:
                split.append(group)
        groups = _absorb(split)
    groups.sort(key=lambda g: sorted(order[i] for i in g))
    if len(groups) > len(ascii_lowercase):
        raise InputValidationError("more than 26 letter groups")
    letters: dict[Hashable, str] = {item: "" for item in items}
    for letter, group in zip(ascii_lowercase, groups, strict=False):
        for item in group:
            letters[item] += letter
    return letters


def _absorb(groups: list[frozenset[Hashable]]) -> list[frozenset[Hashable]]:
    unique = list(dict.fromkeys(g for g in groups if g))
    return [g for g in unique if not any(g < other for other in unique)]


def _pairs(x: Sequence[float], y: Sequence[float]) -> tuple[np.ndarray, np.ndarray]:
    a = np.array([np.nan if v is None else float(v) for v in x], dtype=float)
    b = np.array([np.nan if v is None else float(v) for v in y], dtype=float)
    if a.shape != b.shape:
        raise InputValidationError(f"need equal lengths, got {a.size} and {b.size}")
    keep = np.isfinite(a) & np.isfinite(b)
    return a[keep], b[keep]


def kendall_tau(x: Sequence[float], y: Sequence[float]) -> float | None:
    """Kendall's tau-b (ties corrected, as ``scipy.stats.kendalltau``); None if undefined.

    O(n²) over pairs — rankings of explainers have a handful of items.
    """
    a, b = _pairs(x, y)
    if a.size < 2:
        return None
    da = np.sign(a[:, None] - a[None, :])
    db = np.sign(b[:, None] - b[None, :])
    upper = np.triu_indices(a.size, k=1)
    sa, sb = da[upper], db[upper]
    n0 = sa.size
    ties_a, ties_b = np.sum(sa == 0), np.sum(sb == 0)
    denominator = np.sqrt((n0 - ties_a) * (n0 - ties_b))
    if denominator == 0:
        return None
    return float(np.sum(sa * sb) / denominator)


def spearman(x: Sequence[float], y: Sequence[float]) -> float | None:
    """Spearman's rho: Pearson correlation of average ranks; None if a side is constant."""
    a, b = _pairs(x, y)
    if a.size < 2:
        return None
    ra = np.asarray(rank_with_ties(a.tolist(), higher_is_better=False))
    rb = np.asarray(rank_with_ties(b.tolist(), higher_is_better=False))
    ra, rb = ra - ra.mean(), rb - rb.mean()
    denominator = np.sqrt(np.sum(ra * ra) * np.sum(rb * rb))
    if denominator == 0:
        return None
    return float(np.sum(ra * rb) / denominator)
