"""Paired comparisons of two explainers scored on the same images, and Holm's correction.

Two tests, because the suite's aggregates come in two kinds:

- a per-image score averaged over images (deletion AUC, energy): the sign-flip
  permutation test of the mean difference is exact for small n and needs no assumption
  beyond exchangeability of the sign under the null;
- an aggregate that is not a mean of per-image numbers (MaxBoxAccV2's threshold sweep,
  PxAP's pooled histograms, per-class means): a paired bootstrap resamples the *same*
  images for both explainers and reads the p-value off the replicates of the difference.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Hashable, Sequence
from dataclasses import dataclass

import numpy as np

from xai_eval.errors import InputValidationError
from xai_eval.stats.intervals import (
    DEFAULT_RESAMPLES,
    DEFAULT_SEED,
    Interval,
    percentile_interval,
    stratified_resamples,
)

#: above this many sign patterns the permutation test samples them instead of enumerating
EXACT_LIMIT = 2 ** 16


@dataclass(frozen=True)
class PairedTest:
    """Difference ``a - b`` with its interval and a two-sided p-value."""

    difference: Interval
    p_value: float
    method: str


def paired_permutation_test(a: Sequence[float], b: Sequence[float],
                            n_resamples: int = 9999, seed: int = DEFAULT_SEED,
                            confidence: float = 0.95) -> PairedTest:
    """Two-sided sign-flip test of ``mean(a - b) == 0``.

    Exact (every sign pattern) when there are at most :data:`EXACT_LIMIT` patterns, else
    ``n_resamples`` random patterns plus the observed one (the ``(k+1)/(m+1)`` rule, so
    the p-value is never 0). Equal to ``scipy.stats.permutation_test`` with
    ``permutation_type="samples"`` in the exact case.
    """
    x, y = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    if x.shape != y.shape or x.ndim != 1:
        raise InputValidationError(f"paired samples need equal 1-d shapes, got {x.shape} "
                                   f"and {y.shape}")
    keep = np.isfinite(x) & np.isfinite(y)
    d = x[keep] - y[keep]
    n = d.size
    if n == 0:
        return PairedTest(Interval(None, None, None, 0, "permutation", confidence), 1.0,
                          "permutation")
    observed = abs(d.mean())
    tolerance = 1e-12 * max(1.0, float(np.abs(d).max()))
    if 2 ** n <= EXACT_LIMIT:
        signs = np.array(list(itertools.product((1.0, -1.0), repeat=n)))
        means = np.abs(signs @ d / n)
        p_value = float(np.mean(means >= observed - tolerance))
        method = "exact sign-flip permutation"
    else:
        rng = np.random.default_rng(seed)
        signs = rng.choice((1.0, -1.0), size=(n_resamples, n))
        means = np.abs(signs @ d / n)
        p_value = float((np.sum(means >= observed - tolerance) + 1) / (n_resamples + 1))
        method = "sign-flip permutation"
    resamples = stratified_resamples([0] * n, DEFAULT_RESAMPLES, seed)
    interval = percentile_interval(d[resamples].mean(axis=1), float(d.mean()), n, confidence)
    return PairedTest(interval, min(1.0, p_value), method)


def bootstrap_p_value(differences: np.ndarray | Sequence[float]) -> float:
    """Two-sided p of "no difference" from bootstrap replicates of a difference.

    ``min(1, 2 * min(P(d* <= 0), P(d* >= 0)))`` over the finite replicates — the
    percentile-interval inversion (below ``1 - confidence`` exactly when the percentile
    interval excludes 0). All-zero replicates (identical explainers) give 1.
    """
    values = np.asarray(differences, dtype=float)
    values = values[np.isfinite(values)]
    if values.size == 0:
        return 1.0
    return float(min(1.0, 2 * min(np.mean(values <= 0), np.mean(values >= 0))))


def paired_bootstrap_test(statistic_a: Callable[[np.ndarray], float | None],
                          statistic_b: Callable[[np.ndarray], float | None],
                          strata: Sequence[Hashable], n_resamples: int = DEFAULT_RESAMPLES,
                          seed: int = DEFAULT_SEED, confidence: float = 0.95) -> PairedTest:
    """Paired stratified bootstrap of ``statistic_a - statistic_b`` on the same resamples.

    Both statistics take an index array into the shared images. The two-sided p-value is
    ``min(1, 2 * min(P(d* <= 0), P(d* >= 0)))`` over the replicates ``d*`` — the
    percentile-interval inversion: it is below ``1 - confidence`` exactly when the
    percentile interval excludes 0.
    """
    n = len(strata)
    if n == 0:
        return PairedTest(Interval(None, None, None, 0, "paired bootstrap", confidence), 1.0,
                          "paired bootstrap")

    def difference(indices: np.ndarray) -> float:
        va, vb = statistic_a(indices), statistic_b(indices)
        return np.nan if va is None or vb is None else float(va) - float(vb)

    estimate = difference(np.arange(n))
    replicates = np.array([difference(i) for i in stratified_resamples(strata, n_resamples,
                                                                       seed)])
    finite = replicates[np.isfinite(replicates)]
    if not np.isfinite(estimate) or finite.size == 0:
        return PairedTest(Interval(None, None, None, n, "paired bootstrap", confidence), 1.0,
                          "paired bootstrap")
    interval = percentile_interval(finite, estimate, n, confidence, "paired bootstrap")
    return PairedTest(interval, bootstrap_p_value(finite), "paired bootstrap")


def holm(p_values: Sequence[float]) -> list[float]:
    """Holm–Bonferroni adjusted p-values, in the input order (statsmodels' ``"holm"``).

    Controls the family-wise error of all comparisons of one metric without Bonferroni's
    loss of power: the k-th smallest p is multiplied by ``m - k + 1`` and the results are
    made monotone.
    """
    p = np.asarray(p_values, dtype=float)
    if p.size == 0:
        return []
    if np.any((p < 0) | (p > 1)) or np.any(~np.isfinite(p)):
        raise InputValidationError("p-values must lie in [0, 1]")
    order = np.argsort(p, kind="stable")
    m = p.size
    adjusted = np.maximum.accumulate((m - np.arange(m)) * p[order])
    out = np.empty(m)
    out[order] = np.minimum(1.0, adjusted)
    return out.tolist()
