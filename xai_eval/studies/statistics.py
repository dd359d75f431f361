"""The statistics human-study reviewers expect, from scipy.stats and statsmodels.

- Accuracy (class discrimination): Wilson 95% CI (``proportion_confint(method="wilson")``)
  and an exact two-sided binomial test against chance (``scipy.stats.binomtest``).
- Ratings (trust): mean with a *cluster* bootstrap 95% CI — answers of one participant are
  not independent, so whole participants are resampled (seeded) — and a Wilcoxon
  signed-rank test against 0 on the per-participant means (one value per independent unit).
- Agreement: Fleiss' kappa (``statsmodels.stats.inter_rater``).
- Comparing techniques: Mann-Whitney U on per-participant values.

Nothing here touches the database: callers pass plain numbers, so the functions are
tested on the paper's exact counts (496/810 correct -> 61.23%, Wilson 57.83-64.53%).
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Hashable, Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
from scipy import stats
from statsmodels.stats.inter_rater import aggregate_raters, fleiss_kappa
from statsmodels.stats.proportion import proportion_confint


@dataclass(frozen=True)
class AccuracySummary:
    """k of n correct, the Wilson CI and the exact binomial test against ``chance``."""

    correct: int
    n: int
    accuracy: float
    ci_low: float
    ci_high: float
    chance: float
    p_value: float
    ci_method: str = "wilson"
    test: str = "exact binomial, two-sided"

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def accuracy_summary(correct: int, n: int, chance: float = 0.5, confidence: float = 0.95,
                     alternative: str = "two-sided") -> AccuracySummary:
    """Accuracy ``correct/n`` with its Wilson interval and binomial p-value vs ``chance``."""
    if n <= 0:
        raise ValueError("accuracy needs at least one answer (n >= 1)")
    if not 0 <= correct <= n:
        raise ValueError(f"correct must be between 0 and n={n}, got {correct}")
    if not 0 < chance < 1:
        raise ValueError(f"chance must be in (0, 1), got {chance}")
    low, high = proportion_confint(correct, n, alpha=1 - confidence, method="wilson")
    p_value = stats.binomtest(correct, n, chance, alternative=alternative).pvalue
    return AccuracySummary(correct, n, correct / n, float(low), float(high), chance,
                           float(p_value), test=f"exact binomial, {alternative}")


@dataclass(frozen=True)
class RatingSummary:
    """Mean rating, its cluster-bootstrap CI and the Wilcoxon test against 0."""

    n: int
    n_clusters: int
    mean: float
    ci_low: float
    ci_high: float
    wilcoxon_statistic: float | None
    p_value: float | None
    resamples: int
    seed: int
    test: str = "Wilcoxon signed-rank vs 0 on per-participant means"

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def cluster_means(values: Sequence[float], clusters: Sequence[Hashable]) -> np.ndarray:
    """Mean of ``values`` within each cluster (in first-seen cluster order)."""
    groups: dict[Hashable, list[float]] = defaultdict(list)
    for value, cluster in zip(values, clusters, strict=True):
        groups[cluster].append(float(value))
    return np.array([np.mean(v) for v in groups.values()])


def cluster_bootstrap_ci(values: Sequence[float], clusters: Sequence[Hashable] | None = None,
                         confidence: float = 0.95, resamples: int = 10_000,
                         seed: int = 0) -> tuple[float, float]:
    """Percentile CI of the overall mean, resampling whole clusters with replacement.

    Each resample draws as many clusters as there are and pools all their values, so a
    participant who answered more counts more, exactly as in the point estimate. With
    ``clusters=None`` every value is its own cluster (the ordinary bootstrap).
    """
    values = np.asarray(values, dtype=float)
    if values.size == 0:
        raise ValueError("a bootstrap needs at least one value")
    labels = range(values.size) if clusters is None else clusters
    index: dict[Hashable, int] = {}
    codes = np.array([index.setdefault(c, len(index)) for c in labels])
    sums = np.bincount(codes, weights=values)
    counts = np.bincount(codes).astype(float)
    rng = np.random.default_rng(seed)
    draws = rng.integers(0, len(index), size=(resamples, len(index)))
    means = sums[draws].sum(axis=1) / counts[draws].sum(axis=1)
    tail = (1 - confidence) / 2
    low, high = np.quantile(means, [tail, 1 - tail])
    return float(low), float(high)


def rating_summary(values: Sequence[float], clusters: Sequence[Hashable] | None = None,
                   confidence: float = 0.95, resamples: int = 10_000,
                   seed: int = 0) -> RatingSummary:
    """Mean rating with a cluster bootstrap CI (clusters = participants) and a Wilcoxon
    signed-rank test of the per-cluster means against 0 (None when every mean is 0)."""
    arr = np.asarray(values, dtype=float)
    if arr.size == 0:
        raise ValueError("rating summary needs at least one rating")
    units = arr if clusters is None else cluster_means(arr, clusters)
    low, high = cluster_bootstrap_ci(arr, clusters, confidence, resamples, seed)
    statistic = p_value = None
    if np.any(units != 0):
        result = stats.wilcoxon(units)
        statistic, p_value = float(result.statistic), float(result.pvalue)
    return RatingSummary(int(arr.size), int(units.size), float(arr.mean()), low, high,
                         statistic, p_value, resamples, seed)


@dataclass(frozen=True)
class Agreement:
    """Fleiss' kappa over the items that received the modal number of ratings."""

    kappa: float | None
    items: int
    raters_per_item: int
    items_left_out: int


def fleiss_kappa_from_ratings(ratings_by_item: Mapping[Hashable, Sequence[Hashable]]
                              ) -> Agreement:
    """Fleiss' kappa from each item's list of answers (categories of any hashable type).

    Fleiss' kappa needs the same number of ratings per item: items with the most common
    count are used (their first ``m`` answers) and the others are reported as left out.
    """
    lists = [list(v) for v in ratings_by_item.values() if len(v) >= 2]
    if not lists:
        return Agreement(None, 0, 0, len(ratings_by_item))
    m = Counter(len(v) for v in lists).most_common(1)[0][0]
    used = [v[:m] for v in lists if len(v) >= m]
    categories = {c: i for i, c in enumerate(sorted({c for v in used for c in v}, key=str))}
    table, _ = aggregate_raters(np.array([[categories[c] for c in v] for v in used]),
                                n_cat=len(categories))
    kappa = float(fleiss_kappa(table, method="fleiss")) if len(categories) > 1 else None
    return Agreement(kappa, len(used), m, len(ratings_by_item) - len(used))


@dataclass(frozen=True)
class Comparison:
    a: str
    b: str
    u_statistic: float
    p_value: float
    test: str = "Mann-Whitney U, two-sided"


def mann_whitney(a: Sequence[float], b: Sequence[float], name_a: str = "a",
                 name_b: str = "b") -> Comparison:
    """Two-sided Mann-Whitney U test between two samples (e.g. per-participant values)."""
    if len(a) == 0 or len(b) == 0:
        raise ValueError("Mann-Whitney needs at least one value in each group")
    result = stats.mannwhitneyu(np.asarray(a, float), np.asarray(b, float),
                                alternative="two-sided")
    return Comparison(name_a, name_b, float(result.statistic), float(result.pvalue))


def condition_statistics(kind: str, scores: Sequence[float], participants: Sequence[Hashable],
                         chance: float | None = None, seed: int = 0) -> dict[str, Any]:
    """The admin row of one condition: accuracy stats (``kind="accuracy"``, scores 0/1) or
    rating stats (``kind="rating"``, recoded ratings clustered by participant)."""
    if not scores:
        return {}
    if kind == "accuracy":
        summary = accuracy_summary(int(round(sum(scores))), len(scores), chance or 0.5)
        return {"accuracy": summary.accuracy, "ci_low": summary.ci_low,
                "ci_high": summary.ci_high, "p_value": summary.p_value,
                "chance": summary.chance}
    rating = rating_summary(scores, participants, seed=seed)
    return {"mean": rating.mean, "ci_low": rating.ci_low, "ci_high": rating.ci_high,
            "wilcoxon_statistic": rating.wilcoxon_statistic, "p_value": rating.p_value,
            "participants": rating.n_clusters}


def compare_conditions(per_participant: Mapping[str, Sequence[float]]) -> list[Comparison]:
    """Pairwise Mann-Whitney tests between conditions on per-participant values."""
    names = sorted(per_participant)
    return [mann_whitney(per_participant[a], per_participant[b], a, b)
            for i, a in enumerate(names) for b in names[i + 1:]
            if len(per_participant[a]) and len(per_participant[b])]
