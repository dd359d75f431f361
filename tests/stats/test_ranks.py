"""Ranks, letters and rank correlations against scipy and hand cases."""

import numpy as np
import pytest
from scipy import stats as sps

from xai_eval.stats import compact_letter_display, kendall_tau, rank_with_ties, spearman


def test_ranks_match_rankdata_with_ties_and_missing():
    scores = [0.3, 0.9, 0.3, None, 0.1]
    assert rank_with_ties(scores, higher_is_better=True)[:3] == [2.5, 1.0, 2.5]
    assert np.isnan(rank_with_ties(scores)[3])
    values = np.random.default_rng(0).integers(0, 5, size=30).astype(float)
    assert rank_with_ties(values, higher_is_better=False) == pytest.approx(
        list(sps.rankdata(values)))
    assert rank_with_ties(values, higher_is_better=True) == pytest.approx(
        list(sps.rankdata(-values)))


def test_letters_hand_cases():
    items = ["A", "B", "C", "D"]
    assert compact_letter_display(items, []) == {k: "a" for k in items}
    # A differs from C and D; B differs from D: groups {A,B}, {B,C}, {C,D}
    letters = compact_letter_display(items, [("A", "C"), ("A", "D"), ("B", "D")])
    assert letters == {"A": "a", "B": "ab", "C": "bc", "D": "c"}
    # all pairs differ: every item its own letter
    every = [(x, y) for i, x in enumerate(items) for y in items[i + 1:]]
    assert compact_letter_display(items, every) == {"A": "a", "B": "b", "C": "c", "D": "d"}


def test_letters_respect_every_pair():
    rng = np.random.default_rng(5)
    items = list(range(7))
    for _ in range(50):
        pairs = [(i, j) for i in items for j in items if i < j and rng.random() < 0.3]
        letters = compact_letter_display(items, pairs)
        differ = set(pairs)
        for i in items:
            for j in items:
                if i < j:
                    share = bool(set(letters[i]) & set(letters[j]))
                    assert share == ((i, j) not in differ), (pairs, letters)


@pytest.mark.parametrize("seed", range(5))
def test_kendall_and_spearman_match_scipy(seed):
    rng = np.random.default_rng(seed)
    x = rng.integers(0, 4, size=12).astype(float)  # ties on both sides
    y = x + rng.integers(-2, 3, size=12)
    assert kendall_tau(x, y) == pytest.approx(sps.kendalltau(x, y).statistic)
    assert spearman(x, y) == pytest.approx(sps.spearmanr(x, y).statistic)


def test_correlations_undefined_cases():
    assert kendall_tau([1, 1, 1], [1, 2, 3]) is None
    assert spearman([1], [2]) is None
    assert kendall_tau([1, 2, 3], [3, 2, 1]) == pytest.approx(-1.0)
    assert spearman([1, 2, None, 4], [2, 4, 5, 8]) == pytest.approx(1.0)
