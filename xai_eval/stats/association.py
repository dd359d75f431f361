"""Correlation with an interval: "does this automatic metric track the human outcome?"

Across explainers the n is small (a handful of methods), so the interval matters more
than the coefficient. Spearman's rho with a Fisher-z interval using the Fieller et al.
(1957) variance ``1.06 / (n - 3)``; for n <= 3 no interval exists and the bounds are None.
Shared by the suite report and the human-study pages (engineer `utility` calls it).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from scipy.stats import norm

from xai_eval.stats.ranks import _pairs, kendall_tau, spearman


@dataclass(frozen=True)
class Correlation:
    """Spearman's rho across paired observations, its interval, and Kendall's tau."""

    rho: float | None
    low: float | None
    high: float | None
    n: int
    tau: float | None
    confidence: float = 0.95

    def as_dict(self) -> dict[str, float | int | None]:
        return {"rho": self.rho, "low": self.low, "high": self.high, "n": self.n,
                "tau": self.tau, "confidence": self.confidence}

    @property
    def disagrees(self) -> bool:
        """True when the rankings are reliably opposite (the whole interval below 0)."""
        return self.high is not None and self.high < 0


def correlation_with_interval(x: Sequence[float | None], y: Sequence[float | None],
                              confidence: float = 0.95) -> Correlation:
    """Spearman's rho of ``x`` and ``y`` (None/NaN pairs dropped) with a Fisher-z interval."""
    a, b = _pairs(x, y)
    n = int(a.size)
    rho = spearman(a.tolist(), b.tolist())
    tau = kendall_tau(a.tolist(), b.tolist())
    if rho is None or n <= 3:
        return Correlation(rho, None, None, n, tau, confidence)
    clipped = max(-0.999999, min(0.999999, rho))
    z = math.atanh(clipped)
    half = float(norm.ppf(0.5 + confidence / 2)) * math.sqrt(1.06 / (n - 3))
    return Correlation(rho, math.tanh(z - half), math.tanh(z + half), n, tau, confidence)
