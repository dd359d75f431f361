"""Reliability of a metric in the MetaQuantus sense (Hedström et al., TMLR 2023).

A metric is worth believing when a *minor* perturbation (a little input noise, a slightly
perturbed model) does not change its verdict — noise resilience (NR) — and a *disruptive*
one (a randomised model, shuffled explanations) does — adversary reactivity (AR). Each is
read two ways, on per-sample scores of L explainers × N samples:

- intra-consistency (IAC): per explainer, the Wilcoxon signed-rank p-value between the
  unperturbed and perturbed per-sample scores (two-sided, ``zero_method="zsplit"``).
  NR wants no difference (score = p); AR wants one (score = 1 − p).
- inter-consistency (IEC): NR — the share of (sample, rank position) where the explainer
  at that position is the same before and after (per-sample rankings unchanged);
  AR — the share of (explainer, sample) whose score got *worse* after the perturbation.

The meta-consistency score MC is the mean of the four, in [0, 1]; 1 is ideal. Rankings
use a stable sort, so tied scores keep explainer order (MetaQuantus uses ``np.argsort``,
whose default quicksort may order ties differently: results can differ only on ties).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.stats import wilcoxon

from xai_eval.errors import InputValidationError


@dataclass(frozen=True)
class ReliabilityScores:
    """The four MetaQuantus criteria and their mean (None where undefined)."""

    iac_nr: float | None
    iac_ar: float | None
    iec_nr: float | None
    iec_ar: float | None

    @property
    def meta_consistency(self) -> float | None:
        parts = [v for v in (self.iac_nr, self.iac_ar, self.iec_nr, self.iec_ar)
                 if v is not None]
        return float(np.mean(parts)) if len(parts) == 4 else None

    def as_dict(self) -> dict[str, float | None]:
        return {"iac_nr": self.iac_nr, "iac_ar": self.iac_ar, "iec_nr": self.iec_nr,
                "iec_ar": self.iec_ar, "mc": self.meta_consistency}


def _matrix(scores: np.ndarray | list[list[float]], name: str) -> np.ndarray:
    array = np.asarray(scores, dtype=float)
    if array.ndim != 2:
        raise InputValidationError(f"{name} must be (explainers, samples), got {array.shape}")
    return array


def intra_consistency(q: np.ndarray, q_hat: np.ndarray) -> float | None:
    """Wilcoxon signed-rank p-value (two-sided, zsplit) of one explainer's paired scores.

    Identical vectors give p = 1 (no evidence of change); fewer than one finite pair, None.
    """
    a, b = np.asarray(q, dtype=float), np.asarray(q_hat, dtype=float)
    keep = np.isfinite(a) & np.isfinite(b)
    a, b = a[keep], b[keep]
    if a.size == 0:
        return None
    if np.all(a == b):
        return 1.0
    return float(wilcoxon(a, b, alternative="two-sided", zero_method="zsplit").pvalue)


def inter_consistency_resilience(q_star: np.ndarray, q_hat: np.ndarray) -> float | None:
    """Share of (sample, position) where the per-sample explainer ranking is unchanged."""
    star, hat = _matrix(q_star, "q_star"), _matrix(q_hat, "q_hat")
    if star.shape != hat.shape or star.size == 0:
        return None
    same = np.argsort(star, axis=0, kind="stable") == np.argsort(hat, axis=0, kind="stable")
    return float(same.mean())


def inter_consistency_adversary(q_star: np.ndarray, q_hat: np.ndarray,
                                higher_is_better: bool = True) -> float | None:
    """Share of (explainer, sample) whose score is strictly worse after the perturbation."""
    star, hat = _matrix(q_star, "q_star"), _matrix(q_hat, "q_hat")
    if star.shape != hat.shape or star.size == 0:
        return None
    worse = star > hat if higher_is_better else star < hat
    return float(worse.mean())


def reliability_scores(q: np.ndarray, q_noise: np.ndarray, q_adversary: np.ndarray,
                       higher_is_better: bool = True) -> ReliabilityScores:
    """The four criteria from (explainers × samples) scores: clean, minor, disruptive.

    IAC is averaged over explainers; IEC is computed over the whole matrix, as in
    MetaQuantus (there also averaged over K repeated perturbations, here K = 1 per call).
    """
    clean = _matrix(q, "q")
    noise, adversary = _matrix(q_noise, "q_noise"), _matrix(q_adversary, "q_adversary")
    if not clean.shape == noise.shape == adversary.shape:
        raise InputValidationError("q, q_noise and q_adversary need the same shape, got "
                                   f"{clean.shape}, {noise.shape}, {adversary.shape}")
    nr = [intra_consistency(a, b) for a, b in zip(clean, noise, strict=True)]
    ar = [intra_consistency(a, b) for a, b in zip(clean, adversary, strict=True)]
    nr_values = [v for v in nr if v is not None]
    ar_values = [1.0 - v for v in ar if v is not None]
    return ReliabilityScores(
        float(np.mean(nr_values)) if nr_values else None,
        float(np.mean(ar_values)) if ar_values else None,
        inter_consistency_resilience(clean, noise),
        inter_consistency_adversary(clean, adversary, higher_is_better),
    )
