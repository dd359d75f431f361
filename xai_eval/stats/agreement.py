"""Agreement between metrics: Krippendorff's alpha and the rank-correlation matrix.

AttriBench's question: do the metrics that claim to measure one property rank the
explainers alike? Metrics play the "coders", explainers the "units"; alpha near 1 means
agreement, 0 chance-level, negative systematic disagreement.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

from xai_eval.errors import InputValidationError
from xai_eval.stats.ranks import spearman

LEVELS = ("nominal", "ordinal", "interval", "ratio")


def _delta(values: np.ndarray, counts: np.ndarray, level: str) -> np.ndarray:
    """Squared difference function between the distinct values (Krippendorff 2011)."""
    v = values[:, None], values[None, :]
    if level == "nominal":
        return (v[0] != v[1]).astype(float)
    if level == "interval":
        return (v[0] - v[1]) ** 2
    if level == "ratio":
        total = v[0] + v[1]
        with np.errstate(invalid="ignore", divide="ignore"):
            out = ((v[0] - v[1]) / total) ** 2
        return np.nan_to_num(out)
    # ordinal: the mass of the values between c and k (inclusive), minus half the ends
    cumulative = np.concatenate([[0.0], np.cumsum(counts)])
    i = np.arange(values.size)
    lo, hi = np.minimum(i[:, None], i[None, :]), np.maximum(i[:, None], i[None, :])
    between = cumulative[hi + 1] - cumulative[lo]
    return (between - (counts[lo] + counts[hi]) / 2) ** 2


def krippendorff_alpha(data: Sequence[Sequence[float | None]] | np.ndarray,
                       level: str = "interval") -> float | None:
    """Krippendorff's alpha of a (coders × units) table; None/NaN are missing values.

    Built on the coincidence matrix, so missing values and any number of coders work.
    Units with fewer than two values are not pairable and are left out. Returns None when
    fewer than two pairable values exist or every value is the same (no disagreement is
    possible, alpha undefined).
    """
    if level not in LEVELS:
        raise InputValidationError(f"level must be one of {LEVELS}, got {level!r}")
    table = np.array([[np.nan if v is None else float(v) for v in row] for row in data],
                     dtype=float)
    if table.ndim != 2:
        raise InputValidationError("krippendorff_alpha needs a 2-d (coders x units) table")
    values = np.unique(table[np.isfinite(table)])
    index = {v: k for k, v in enumerate(values)}
    coincidence = np.zeros((values.size, values.size))
    for unit in table.T:
        present = unit[np.isfinite(unit)]
        m = present.size
        if m < 2:
            continue
        counts = np.zeros(values.size)
        for v in present:
            counts[index[v]] += 1
        coincidence += (np.outer(counts, counts) - np.diag(counts)) / (m - 1)
    marginals = coincidence.sum(axis=1)
    total = marginals.sum()
    if total < 2 or values.size < 2:
        return None
    delta = _delta(values, marginals, level)
    observed = np.sum(coincidence * delta)
    expected = np.sum(np.outer(marginals, marginals) * delta) / (total - 1)
    if expected == 0:
        return None
    return float(1.0 - observed / expected)


def rank_correlation_matrix(scores: Mapping[str, Sequence[float | None]]
                            ) -> dict[tuple[str, str], float | None]:
    """Spearman's rho between every two metrics' scores over the same explainers.

    ``scores`` maps a metric to its score per explainer (one fixed explainer order). The
    direction of each metric must already be aligned (higher = better) by the caller.
    """
    names = list(scores)
    return {(a, b): (1.0 if a == b else spearman(scores[a], scores[b]))
            for a in names for b in names}
