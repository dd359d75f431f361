"""Intervals against closed forms and statsmodels/scipy."""

import numpy as np
import pytest
from scipy import stats as sps
from statsmodels.stats.proportion import proportion_confint

from xai_eval.errors import InputValidationError
from xai_eval.stats import bootstrap_interval, stratified_resamples, wilson_interval


@pytest.mark.parametrize(("k", "n"), [(0, 10), (3, 10), (10, 10), (17, 40), (1, 1)])
def test_wilson_matches_statsmodels(k, n):
    low, high = proportion_confint(k, n, alpha=0.05, method="wilson")
    interval = wilson_interval(k, n)
    assert interval.estimate == pytest.approx(k / n)
    assert interval.low == pytest.approx(low, abs=1e-12)
    assert interval.high == pytest.approx(high, abs=1e-12)


def test_wilson_hand_case():
    # 5 of 10, z = 1.959964: centre 0.5, half-width z*sqrt(.025 + z²/400)/(1 + z²/10)
    z = 1.959963984540054
    half = z * np.sqrt(0.025 + z * z / 400) / (1 + z * z / 10)
    interval = wilson_interval(5, 10)
    assert interval.low == pytest.approx(0.5 - half)
    assert interval.high == pytest.approx(0.5 + half)


def test_wilson_rejects_bad_counts():
    with pytest.raises(InputValidationError):
        wilson_interval(11, 10)
    with pytest.raises(InputValidationError):
        wilson_interval(1, 10, confidence=1.5)
    assert wilson_interval(0, 0).low is None


def test_stratified_resamples_keep_each_class_count_and_are_seeded():
    strata = ["a"] * 5 + ["b"] * 3 + ["c"] * 2
    draws = stratified_resamples(strata, 200, seed=3)
    assert draws.shape == (200, 10)
    labels = np.asarray(strata)
    for row in draws:
        assert sorted(labels[row]) == sorted(strata)
        assert set(row[:5]) <= set(range(5))
    assert np.array_equal(draws, stratified_resamples(strata, 200, seed=3))
    assert not np.array_equal(draws, stratified_resamples(strata, 200, seed=4))
    # a single-member stratum can only resample itself
    assert np.all(stratified_resamples(["x", "y"], 50)[:, 1] == 1)


def test_bootstrap_mean_interval_agrees_with_scipy_percentile():
    rng = np.random.default_rng(0)
    values = rng.normal(2.0, 1.0, size=80)
    ours = bootstrap_interval(lambda i: values[i].mean(), [0] * 80, n_resamples=4000)
    theirs = sps.bootstrap((values,), np.mean, n_resamples=4000, method="percentile",
                           random_state=1).confidence_interval
    assert ours.estimate == pytest.approx(values.mean())
    # two Monte Carlo estimates of the same quantiles: agree to a few % of the width
    width = theirs.high - theirs.low
    assert ours.low == pytest.approx(theirs.low, abs=0.08 * width)
    assert ours.high == pytest.approx(theirs.high, abs=0.08 * width)
    # and the width is the normal-theory 2 * 1.96 * s / sqrt(n) within Monte Carlo error
    normal = 2 * 1.96 * values.std() / np.sqrt(80)
    assert ours.high - ours.low == pytest.approx(normal, rel=0.1)


def test_bootstrap_of_a_constant_is_degenerate_and_none_is_tolerated():
    interval = bootstrap_interval(lambda i: 1.0, ["a", "b"] * 5, n_resamples=50)
    assert (interval.low, interval.high) == (1.0, 1.0)
    undefined = bootstrap_interval(lambda i: None, ["a"] * 3, n_resamples=10)
    assert undefined.estimate is None and undefined.low is None
