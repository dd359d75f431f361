"""MetaQuantus criteria on small hand cases and against scipy's Wilcoxon test."""

import numpy as np
import pytest
from scipy.stats import wilcoxon

from xai_eval.errors import InputValidationError
from xai_eval.stats.reliability import (
    inter_consistency_adversary,
    inter_consistency_resilience,
    intra_consistency,
    reliability_scores,
)


def test_iec_resilience_hand_case():
    # 3 explainers x 2 samples. Sample 0: order unchanged; sample 1: two swap places.
    q = np.array([[0.1, 0.9], [0.5, 0.5], [0.9, 0.1]])
    q_hat = np.array([[0.2, 0.4], [0.6, 0.6], [0.8, 0.1]])
    # sample 1 argsort before: [2, 1, 0]; after: [2, 0, 1] -> 1 of 3 positions agree
    assert inter_consistency_resilience(q, q_hat) == pytest.approx((3 + 1) / 6)


def test_iec_adversary_hand_case():
    q = np.array([[0.5, 0.5], [0.8, 0.2]])
    q_hat = np.array([[0.4, 0.5], [0.1, 0.3]])
    # worse (higher is better): 0.5>0.4 yes, 0.5>0.5 no, 0.8>0.1 yes, 0.2>0.3 no
    assert inter_consistency_adversary(q, q_hat) == pytest.approx(0.5)
    assert inter_consistency_adversary(q, q_hat, higher_is_better=False) == pytest.approx(0.25)


def test_iac_is_wilcoxon_zsplit_p_value():
    rng = np.random.default_rng(0)
    a = rng.normal(size=20)
    b = a + rng.normal(0.2, 0.5, size=20)
    expected = wilcoxon(a, b, alternative="two-sided", zero_method="zsplit").pvalue
    assert intra_consistency(a, b) == pytest.approx(expected)
    assert intra_consistency(a, a) == 1.0


def test_an_ideal_metric_scores_near_one_and_a_blind_one_low():
    rng = np.random.default_rng(1)
    clean = np.linspace(0.2, 0.8, 4)[:, None] + rng.normal(0, 0.01, size=(4, 30))
    noise = clean + rng.normal(0, 1e-4, size=clean.shape)
    adversary = clean - 0.5  # every score collapses under the disruptive perturbation
    ideal = reliability_scores(clean, noise, adversary)
    assert ideal.iec_nr > 0.9 and ideal.iec_ar == 1.0 and ideal.iac_ar > 0.99
    assert ideal.meta_consistency > 0.7
    blind = reliability_scores(clean, clean + rng.normal(0, 0.5, size=clean.shape), clean)
    assert blind.iec_ar == 0.0 and blind.iac_ar == 0.0
    assert blind.meta_consistency < ideal.meta_consistency


def test_shapes_are_checked():
    with pytest.raises(InputValidationError):
        reliability_scores(np.zeros((2, 3)), np.zeros((2, 3)), np.zeros((3, 2)))
