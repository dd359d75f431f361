"""Krippendorff's alpha on Krippendorff's own example; correlations with intervals."""

import math

import numpy as np
import pytest

from xai_eval.errors import InputValidationError
from xai_eval.stats import correlation_with_interval, krippendorff_alpha, rank_correlation_matrix

NAN = None
# Krippendorff (2011), "Computing Krippendorff's alpha-reliability", section C:
# 4 observers x 12 units with missing values; published alphas below.
RELIABILITY_DATA = [
    [1, 2, 3, 3, 2, 1, 4, 1, 2, NAN, NAN, NAN],
    [1, 2, 3, 3, 2, 2, 4, 1, 2, 5, NAN, 3],
    [NAN, 3, 3, 3, 2, 3, 4, 2, 2, 5, 1, NAN],
    [1, 2, 3, 3, 2, 4, 4, 1, 2, 5, 1, NAN],
]


@pytest.mark.parametrize(("level", "expected"), [("nominal", 0.743), ("ordinal", 0.815),
                                                 ("interval", 0.849), ("ratio", 0.797)])
def test_alpha_matches_krippendorffs_published_values(level, expected):
    assert krippendorff_alpha(RELIABILITY_DATA, level) == pytest.approx(expected, abs=5e-4)


def test_alpha_edge_cases():
    assert krippendorff_alpha([[1, 2, 3], [1, 2, 3]]) == pytest.approx(1.0)
    assert krippendorff_alpha([[1, 1], [1, 1]]) is None  # no variation: undefined
    assert krippendorff_alpha([[1, None], [None, 2]]) is None  # nothing pairable
    # two coders in exact reverse order: systematic disagreement, alpha < 0
    assert krippendorff_alpha([[1, 2, 3, 4], [4, 3, 2, 1]], "ordinal") < 0
    with pytest.raises(InputValidationError):
        krippendorff_alpha(RELIABILITY_DATA, "cardinal")


def test_rank_correlation_matrix_is_symmetric_with_unit_diagonal():
    scores = {"a": [1, 2, 3, 4], "b": [2, 1, 4, 3], "c": [4, 3, 2, 1]}
    matrix = rank_correlation_matrix(scores)
    assert matrix[("a", "a")] == 1.0
    assert matrix[("a", "c")] == pytest.approx(-1.0)
    assert matrix[("a", "b")] == pytest.approx(matrix[("b", "a")]) == pytest.approx(0.6)


def test_correlation_interval_is_fisher_z_with_fieller_variance():
    x = [1, 2, 3, 4, 5, 6, 7, 8]
    y = [2, 1, 4, 3, 6, 5, 8, 7]
    result = correlation_with_interval(x, y)
    rho = 1 - 6 * 8 / (8 * 63)  # d = ±1 everywhere: sum d² = 8
    assert result.rho == pytest.approx(rho)
    half = 1.959963984540054 * math.sqrt(1.06 / 5)
    assert result.low == pytest.approx(math.tanh(math.atanh(rho) - half))
    assert result.high == pytest.approx(math.tanh(math.atanh(rho) + half))
    assert result.n == 8 and not result.disagrees
    small = correlation_with_interval([1, 2, 3], [3, 2, 1])
    assert small.rho == pytest.approx(-1.0) and small.low is None
    opposite = correlation_with_interval(np.arange(30), -np.arange(30) + 0.0)
    assert opposite.disagrees
