"""Confidence intervals: Wilson for proportions, a seeded stratified bootstrap for the rest.

Why a stratified bootstrap: a suite's images come in classes of fixed size, and a
resample that happened to drop a class would change what a per-class mean (pointing game,
mIoU) even means. Resampling images *within* each class keeps every class's count, so the
interval reflects image-to-image variation only. The resamples are drawn from a
``numpy.random.Generator`` seeded explicitly, so a report's intervals are reproducible.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Hashable, Sequence
from dataclasses import dataclass

import numpy as np
from scipy.stats import norm

from xai_eval.errors import InputValidationError

DEFAULT_RESAMPLES = 1000
DEFAULT_SEED = 0


@dataclass(frozen=True)
class Interval:
    """A point estimate with a two-sided interval (``low``/``high`` are None when undefined)."""

    estimate: float | None
    low: float | None
    high: float | None
    n: int
    method: str
    confidence: float = 0.95

    def scaled(self, factor: float) -> Interval:
        """The same interval in other units (fractions to percent)."""
        def s(v: float | None) -> float | None:
            return None if v is None else v * factor
        return Interval(s(self.estimate), s(self.low), s(self.high), self.n, self.method,
                        self.confidence)

    def as_dict(self) -> dict[str, float | int | str | None]:
        return {"estimate": self.estimate, "low": self.low, "high": self.high, "n": self.n,
                "method": self.method, "confidence": self.confidence}


def _check_confidence(confidence: float) -> None:
    if not 0.0 < confidence < 1.0:
        raise InputValidationError(f"confidence must be in (0, 1), got {confidence}")


def wilson_interval(successes: int, n: int, confidence: float = 0.95) -> Interval:
    """Wilson score interval of a proportion (equal to statsmodels' ``method="wilson"``).

    Unlike the normal (Wald) interval it stays inside [0, 1] and is not degenerate at 0 or
    n successes, which matters for small classes that are all hits.
    """
    _check_confidence(confidence)
    if n < 0 or successes < 0 or successes > n:
        raise InputValidationError(f"need 0 <= successes <= n, got {successes} of {n}")
    if n == 0:
        return Interval(None, None, None, 0, "wilson", confidence)
    z = float(norm.ppf(0.5 + confidence / 2))
    p = successes / n
    denominator = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denominator
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denominator
    return Interval(p, max(0.0, centre - half), min(1.0, centre + half), n, "wilson",
                    confidence)


def stratified_resamples(strata: Sequence[Hashable], n_resamples: int = DEFAULT_RESAMPLES,
                         seed: int = DEFAULT_SEED) -> np.ndarray:
    """``(n_resamples, n)`` index arrays: each stratum resampled with replacement to its size.

    Row ``b`` lists the positions (into ``strata``) of the ``b``-th bootstrap sample; the
    positions of one stratum stay in that stratum's slots, so every resample has exactly
    the original count per stratum.
    """
    if n_resamples < 1:
        raise InputValidationError(f"n_resamples must be >= 1, got {n_resamples}")
    labels = list(strata)
    rng = np.random.default_rng(seed)
    out = np.empty((n_resamples, len(labels)), dtype=np.int64)
    groups: dict[Hashable, list[int]] = {}
    for position, label in enumerate(labels):
        groups.setdefault(label, []).append(position)
    for label in sorted(groups, key=repr):  # a fixed order: same seed, same draws
        members = np.asarray(groups[label], dtype=np.int64)
        picks = rng.integers(0, len(members), size=(n_resamples, len(members)))
        out[:, members] = members[picks]
    return out


def percentile_interval(replicates: Sequence[float] | np.ndarray, estimate: float | None,
                        n: int, confidence: float = 0.95,
                        method: str = "bootstrap") -> Interval:
    """The percentile interval of bootstrap replicates (NaN replicates are left out)."""
    _check_confidence(confidence)
    values = np.asarray(replicates, dtype=float)
    values = values[np.isfinite(values)]
    if estimate is None or values.size == 0:
        return Interval(estimate, None, None, n, method, confidence)
    alpha = (1 - confidence) / 2
    low, high = np.quantile(values, [alpha, 1 - alpha])
    return Interval(float(estimate), float(low), float(high), n, method, confidence)


def bootstrap_interval(statistic: Callable[[np.ndarray], float | None],
                       strata: Sequence[Hashable], n_resamples: int = DEFAULT_RESAMPLES,
                       seed: int = DEFAULT_SEED, confidence: float = 0.95) -> Interval:
    """Percentile interval of ``statistic(indices)`` over stratified resamples.

    ``statistic`` receives an index array into the observations (the identity first, for
    the point estimate) and returns the aggregate; returning None marks a resample where
    it is undefined.
    """
    n = len(strata)
    if n == 0:
        return Interval(None, None, None, 0, "bootstrap", confidence)
    estimate = statistic(np.arange(n))
    replicates = [statistic(indices) for indices in stratified_resamples(strata, n_resamples,
                                                                         seed)]
    values = [np.nan if v is None else float(v) for v in replicates]
    return percentile_interval(values, None if estimate is None else float(estimate), n,
                               confidence)
