"""Statistics for the verdict: intervals, paired tests, ranks, agreement and reliability.

Pure numpy/scipy functions with no knowledge of suites or databases, so the suite report,
the study analysis and a notebook share one implementation:

- :mod:`~xai_eval.stats.intervals` — Wilson intervals, seeded stratified bootstrap;
- :mod:`~xai_eval.stats.paired` — paired bootstrap / sign-flip permutation tests, Holm;
- :mod:`~xai_eval.stats.ranks` — ranks with ties, compact letter display, Kendall, Spearman;
- :mod:`~xai_eval.stats.agreement` — Krippendorff's alpha, rank-correlation matrices;
- :mod:`~xai_eval.stats.reliability` — MetaQuantus-style metric reliability scores;
- :mod:`~xai_eval.stats.association` — correlation with an interval (human vs automatic).
"""

from xai_eval.stats.agreement import krippendorff_alpha, rank_correlation_matrix
from xai_eval.stats.association import Correlation, correlation_with_interval
from xai_eval.stats.intervals import (
    Interval,
    bootstrap_interval,
    percentile_interval,
    stratified_resamples,
    wilson_interval,
)
from xai_eval.stats.paired import (
    PairedTest,
    holm,
    paired_bootstrap_test,
    paired_permutation_test,
)
from xai_eval.stats.ranks import compact_letter_display, kendall_tau, rank_with_ties, spearman
from xai_eval.stats.reliability import ReliabilityScores, reliability_scores

__all__ = [
    "Correlation", "Interval", "PairedTest", "ReliabilityScores", "bootstrap_interval", "compact_letter_display",
    "correlation_with_interval", "holm", "kendall_tau", "krippendorff_alpha",
    "paired_bootstrap_test", "paired_permutation_test", "percentile_interval",
    "rank_correlation_matrix", "rank_with_ties", "reliability_scores", "spearman", "stratified_resamples",
    "wilson_interval",
]
