"""Paired tests and Holm against scipy/statsmodels and hand cases."""

import numpy as np
import pytest
from scipy import stats as sps
from statsmodels.stats.multitest import multipletests

from xai_eval.errors import InputValidationError
from xai_eval.stats import holm, paired_bootstrap_test, paired_permutation_test


def test_exact_permutation_matches_scipy():
    rng = np.random.default_rng(1)
    a = rng.normal(0.3, 1.0, size=10)
    b = rng.normal(0.0, 1.0, size=10)
    ours = paired_permutation_test(a, b)
    theirs = sps.permutation_test((a, b), lambda x, y: np.mean(x - y),
                                  permutation_type="samples", alternative="two-sided",
                                  n_resamples=np.inf)
    assert ours.method.startswith("exact")
    assert ours.p_value == pytest.approx(theirs.pvalue)
    assert ours.difference.estimate == pytest.approx(np.mean(a - b))


def test_permutation_hand_case():
    # d = (1, 1, 1): of the 8 sign patterns only +++ and --- reach |mean| = 1 -> p = 2/8
    result = paired_permutation_test([2, 2, 2], [1, 1, 1])
    assert result.p_value == pytest.approx(0.25)
    assert paired_permutation_test([1, 2], [1, 2]).p_value == 1.0


def test_sampled_permutation_detects_a_shift_and_never_gives_zero():
    rng = np.random.default_rng(2)
    a = rng.normal(1.0, 1.0, size=40)
    result = paired_permutation_test(a, a - 1.0 + rng.normal(0, 0.1, 40), n_resamples=999)
    assert result.method == "sign-flip permutation"
    assert result.p_value == pytest.approx(1 / 1000)
    assert result.difference.low > 0.9


def test_permutation_rejects_unpaired():
    with pytest.raises(InputValidationError):
        paired_permutation_test([1, 2], [1, 2, 3])


def test_paired_bootstrap_uses_the_same_images_for_both():
    rng = np.random.default_rng(3)
    base = rng.normal(0, 5, size=60)  # large image effect shared by both explainers
    a, b = base + 0.5, base.copy()
    strata = [i % 3 for i in range(60)]
    result = paired_bootstrap_test(lambda i: a[i].mean(), lambda i: b[i].mean(), strata)
    # the difference is exactly 0.5 in every resample: pairing removes the image effect
    assert result.difference.low == pytest.approx(0.5)
    assert result.difference.high == pytest.approx(0.5)
    assert result.p_value == 0.0
    same = paired_bootstrap_test(lambda i: a[i].mean(), lambda i: a[i].mean(), strata)
    assert same.p_value == 1.0


def test_holm_matches_statsmodels():
    p = [0.01, 0.04, 0.03, 0.005, 0.5, 0.04]
    expected = multipletests(p, method="holm")[1]
    assert holm(p) == pytest.approx(list(expected))
    assert holm([]) == []
    # hand case: m = 3 -> 3*0.01, then max(2*0.02, 0.03), then max(1*0.04, 0.04)
    assert holm([0.02, 0.01, 0.04]) == pytest.approx([0.04, 0.03, 0.04])
    with pytest.raises(InputValidationError):
        holm([0.2, 1.5])
