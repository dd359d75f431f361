"""Statistics on the Grad-CAM paper's exact counts, checked against independent computations."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats

from xai_eval.studies.statistics import (
    accuracy_summary,
    cluster_bootstrap_ci,
    compare_conditions,
    condition_statistics,
    fleiss_kappa_from_ratings,
    mann_whitney,
    rating_summary,
)

#: Grad-CAM paper, class discrimination: correct answers out of 810 per technique
PAPER = {"guided_gradcam": 496, "guided_backprop": 360, "deconvnet": 432,
         "deconv_gradcam": 489}


def wilson_by_hand(k: int, n: int, z: float = 1.959963984540054) -> tuple[float, float]:
    """Wilson (1927) score interval, written out: an oracle independent of statsmodels."""
    p = k / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return centre - half, centre + half


def binomial_p_by_pmf(k: int, n: int, p: float) -> float:
    """Two-sided exact p: total probability of outcomes no more likely than ``k``."""
    pmf = stats.binom.pmf(np.arange(n + 1), n, p)
    return float(min(1.0, pmf[pmf <= pmf[k] * (1 + 1e-7)].sum()))


def test_wilson_interval_of_guided_gradcam_matches_the_paper():
    summary = accuracy_summary(496, 810)
    assert summary.accuracy == pytest.approx(0.6123, abs=5e-5)
    assert round(summary.ci_low * 100, 2) == 57.83
    assert round(summary.ci_high * 100, 2) == 64.53


@pytest.mark.parametrize("technique", sorted(PAPER))
def test_accuracy_summary_on_paper_counts(technique):
    k = PAPER[technique]
    summary = accuracy_summary(k, 810, chance=0.5)
    low, high = wilson_by_hand(k, 810)
    assert summary.ci_low == pytest.approx(low, abs=1e-12)
    assert summary.ci_high == pytest.approx(high, abs=1e-12)
    assert summary.p_value == pytest.approx(binomial_p_by_pmf(k, 810, 0.5), rel=1e-9)
    assert summary.ci_low < k / 810 < summary.ci_high


def test_paper_accuracies_and_significance():
    assert accuracy_summary(360, 810).accuracy == pytest.approx(0.4444, abs=5e-5)
    assert accuracy_summary(432, 810).accuracy == pytest.approx(0.5333, abs=5e-5)
    assert accuracy_summary(489, 810).accuracy == pytest.approx(0.6037, abs=5e-5)
    # Guided Backprop is significantly *below* chance, Deconvolution is not away from it
    assert accuracy_summary(360, 810).p_value < 0.01
    assert accuracy_summary(432, 810).p_value > 0.05


def test_binomial_against_non_half_chance_matches_pmf_sum():
    assert accuracy_summary(30, 100, chance=0.25).p_value == pytest.approx(
        binomial_p_by_pmf(30, 100, 0.25), rel=1e-9)


@pytest.mark.parametrize("bad", [(5, 0), (11, 10), (-1, 10)])
def test_accuracy_rejects_impossible_counts(bad):
    with pytest.raises(ValueError, match="n"):
        accuracy_summary(*bad)


def test_cluster_bootstrap_is_seeded_and_wider_for_correlated_clusters():
    rng = np.random.default_rng(0)
    # 20 participants whose ratings are identical within a participant: strong clustering
    per_person = rng.normal(1.0, 1.0, size=20)
    values = np.repeat(per_person, 10)
    clusters = np.repeat(np.arange(20), 10)
    a = cluster_bootstrap_ci(values, clusters, seed=3)
    assert a == cluster_bootstrap_ci(values, clusters, seed=3)
    naive = cluster_bootstrap_ci(values, None, seed=3)
    assert (a[1] - a[0]) > 2 * (naive[1] - naive[0])
    # the cluster bootstrap of identical-within-cluster data is the bootstrap of the means
    ref = stats.bootstrap((per_person,), np.mean, n_resamples=10_000, method="percentile",
                          random_state=1).confidence_interval
    assert a[0] == pytest.approx(ref.low, abs=0.05)
    assert a[1] == pytest.approx(ref.high, abs=0.05)


def test_rating_summary_tests_per_participant_means_against_zero():
    values = [2, 1, 2, 1, 0, 1, 2, 2, 1, -1, 1, 2]
    people = [1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 6, 6]
    summary = rating_summary(values, people, seed=0)
    assert summary.mean == pytest.approx(np.mean(values))
    assert summary.n_clusters == 6
    means = [1.5, 1.5, 0.5, 2.0, 0.0, 1.5]
    expected = stats.wilcoxon(means)
    assert summary.p_value == pytest.approx(expected.pvalue)
    assert summary.ci_low <= summary.mean <= summary.ci_high


def test_rating_summary_of_all_zero_ratings_has_no_test():
    summary = rating_summary([0, 0, 0, 0], [1, 1, 2, 2])
    assert summary.p_value is None and summary.mean == 0


def test_fleiss_kappa_matches_the_textbook_example():
    # Fleiss (1971) as reproduced on Wikipedia: 10 subjects, 14 raters, 5 categories -> 0.210
    table = [[0, 0, 0, 0, 14], [0, 2, 6, 4, 2], [0, 0, 3, 5, 6], [0, 3, 9, 2, 0],
             [2, 2, 8, 1, 1], [7, 7, 0, 0, 0], [3, 2, 6, 3, 0], [2, 5, 3, 2, 2],
             [6, 5, 2, 1, 0], [0, 2, 2, 3, 7]]
    ratings = {f"s{i}": [c for c, count in enumerate(row) for _ in range(count)]
               for i, row in enumerate(table)}
    agreement = fleiss_kappa_from_ratings(ratings)
    assert agreement.kappa == pytest.approx(0.210, abs=5e-4)
    assert (agreement.items, agreement.raters_per_item, agreement.items_left_out) == (10, 14, 0)


def test_fleiss_kappa_uses_items_with_the_modal_count():
    ratings = {"a": ["x", "x", "x"], "b": ["y", "y", "y"], "c": ["x", "y"]}
    agreement = fleiss_kappa_from_ratings(ratings)
    assert agreement.kappa == pytest.approx(1.0)
    assert agreement.items_left_out == 1


def test_mann_whitney_matches_scipy_and_pairs_conditions():
    a, b = [0.9, 0.8, 0.7, 0.95], [0.4, 0.5, 0.3, 0.6]
    result = mann_whitney(a, b, "gg", "gb")
    assert result.p_value == pytest.approx(stats.mannwhitneyu(a, b).pvalue)
    pairs = compare_conditions({"x": a, "y": b, "z": a})
    assert [(c.a, c.b) for c in pairs] == [("x", "y"), ("x", "z"), ("y", "z")]


def test_condition_statistics_rows():
    row = condition_statistics("accuracy", [1.0] * 496 + [0.0] * 314, list(range(810)), 0.5)
    assert round(row["ci_low"] * 100, 2) == 57.83
    rating = condition_statistics("rating", [1, 2, 1, 0], [1, 1, 2, 2])
    assert rating["mean"] == 1.0 and rating["participants"] == 2
    assert condition_statistics("rating", [], []) == {}
