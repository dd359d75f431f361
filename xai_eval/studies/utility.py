"""Utility of an explanation: how much it helps people predict the model (between subjects).

The unit is the participant: each one's test accuracy (share of test trials where they
predicted the model's decision) is one value, because a participant's answers are not
independent. For a model-prediction study (conditions = explainers + ``control``):

- per condition: mean accuracy, its 95% t interval, and a one-sample t test against chance;
- **utility** of an explainer = mean accuracy of its participants - mean accuracy of the
  control participants (the accuracy gain of Colin et al. 2022), with a Welch 95% interval
  and p-value (unequal variances: groups of different spread and size), the ratio of the
  two means (the form Colin et al. report, 1 = no help) and Cohen's d (pooled SD), the
  effect size a power analysis uses (:func:`required_per_condition`).

The functions take plain numbers, so a test checks them against a hand computation.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
from scipy import stats

CONTROL = "control"


@dataclass(frozen=True)
class ConditionAccuracy:
    """One condition's per-participant test accuracies summarised."""

    condition: str
    participants: int
    mean: float
    sd: float | None
    ci_low: float | None
    ci_high: float | None
    chance: float
    p_vs_chance: float | None

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class Utility:
    """An explainer against the control: difference of mean accuracies with its interval."""

    condition: str
    control: str
    participants: int
    control_participants: int
    utility: float
    ci_low: float | None
    ci_high: float | None
    p_value: float | None
    ratio: float | None
    cohens_d: float | None
    test: str = "Welch t, two-sided"

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def _sd(values: np.ndarray) -> float | None:
    return float(values.std(ddof=1)) if values.size >= 2 else None


def condition_accuracy(condition: str, accuracies: Sequence[float], chance: float,
                       confidence: float = 0.95) -> ConditionAccuracy:
    """Mean of the per-participant accuracies, its t interval and a t test against chance
    (intervals need two participants; a zero-spread group gets a point interval)."""
    arr = np.asarray(accuracies, dtype=float)
    if arr.size == 0:
        raise ValueError(f"condition {condition!r} has no participant")
    mean, sd = float(arr.mean()), _sd(arr)
    low = high = p = None
    if sd is not None:
        half = stats.t.ppf(0.5 + confidence / 2, arr.size - 1) * sd / math.sqrt(arr.size)
        low, high = mean - half, mean + half
        if sd > 0:
            p = float(stats.ttest_1samp(arr, chance).pvalue)
        else:
            p = 1.0 if mean == chance else 0.0
    return ConditionAccuracy(condition, int(arr.size), mean, sd, low, high, chance, p)


def utility_against_control(condition: str, accuracies: Sequence[float],
                            control: Sequence[float], confidence: float = 0.95,
                            control_name: str = CONTROL) -> Utility:
    """Difference of mean accuracies (explainer - control) with a Welch interval.

    Welch: se = sqrt(s1²/n1 + s2²/n2), df = se⁴ / ((s1²/n1)²/(n1-1) + (s2²/n2)²/(n2-1)),
    interval = diff ± t(df) · se. Cohen's d divides the difference by the pooled SD.
    """
    a, b = np.asarray(accuracies, dtype=float), np.asarray(control, dtype=float)
    if a.size == 0 or b.size == 0:
        raise ValueError("utility needs participants in the condition and in the control")
    diff = float(a.mean() - b.mean())
    ratio = float(a.mean() / b.mean()) if b.mean() > 0 else None
    low = high = p = d = None
    if a.size >= 2 and b.size >= 2:
        va, vb = a.var(ddof=1) / a.size, b.var(ddof=1) / b.size
        se = math.sqrt(va + vb)
        pooled = math.sqrt(((a.size - 1) * a.var(ddof=1) + (b.size - 1) * b.var(ddof=1))
                           / (a.size + b.size - 2))
        d = diff / pooled if pooled > 0 else None
        if se > 0:
            df = (va + vb) ** 2 / (va ** 2 / (a.size - 1) + vb ** 2 / (b.size - 1))
            half = float(stats.t.ppf(0.5 + confidence / 2, df)) * se
            low, high = diff - half, diff + half
            p = float(2 * stats.t.sf(abs(diff) / se, df))
        else:
            low = high = diff
            p = 1.0 if diff == 0 else 0.0
    return Utility(condition, control_name, int(a.size), int(b.size), diff, low, high, p,
                   ratio, d)


def required_per_condition(effect_size: float | None, alpha: float = 0.05,
                           power: float = 0.8) -> int | None:
    """Participants each condition needs to detect ``effect_size`` (Cohen's d) with a
    two-sided two-sample t test (statsmodels ``TTestIndPower``, equal group sizes).
    None when there is no effect to detect (d = 0 or unknown)."""
    from statsmodels.stats.power import TTestIndPower

    if effect_size is None or not math.isfinite(effect_size) or abs(effect_size) < 1e-9:
        return None
    n = TTestIndPower().solve_power(effect_size=abs(effect_size), alpha=alpha, power=power,
                                    ratio=1.0, alternative="two-sided")
    return int(math.ceil(float(n)))


@dataclass
class UtilityReport:
    """A model-prediction study's results: conditions, utilities, and notes."""

    chance: float
    conditions: list[ConditionAccuracy]
    utilities: list[Utility]
    notes: list[str]

    def as_dict(self) -> dict[str, Any]:
        return {"chance": self.chance, "conditions": [c.as_dict() for c in self.conditions],
                "utilities": [u.as_dict() for u in self.utilities], "notes": list(self.notes)}


def utility_report(per_participant: Mapping[str, Sequence[float]], chance: float,
                   control: str = CONTROL, confidence: float = 0.95) -> UtilityReport:
    """Every condition against chance, and every explainer against ``control``."""
    notes = []
    conditions = [condition_accuracy(c, v, chance, confidence)
                  for c, v in sorted(per_participant.items()) if len(v)]
    utilities = []
    base = per_participant.get(control, [])
    if not len(base):
        notes.append(f"no {control} participant yet: utility needs the unexplained condition")
    else:
        for name, values in sorted(per_participant.items()):
            if name != control and len(values):
                utilities.append(utility_against_control(name, values, base, confidence,
                                                         control))
    for c in conditions:
        if c.participants < 2:
            notes.append(f"{c.condition}: {c.participants} participant; intervals need 2 or "
                         "more")
    return UtilityReport(chance, conditions, utilities, notes)


def per_participant_accuracy(rows: Sequence[tuple[int, str, Any]]
                             ) -> dict[str, list[float]]:
    """(participant, condition, score 0/1) answers -> condition -> per-participant means."""
    sums: dict[tuple[str, int], list[float]] = defaultdict(list)
    for pid, condition, score in rows:
        if score is not None:
            sums[(condition, pid)].append(float(score))
    out: dict[str, list[float]] = defaultdict(list)
    for (condition, _pid), scores in sorted(sums.items()):
        out[condition].append(sum(scores) / len(scores))
    return dict(out)


def study_utility(session: Any, study: Any, exclusions: Any = None) -> UtilityReport:
    """The utility report of a built model-prediction study from its analysable answers
    (completed, non-excluded participants; test trials only)."""
    from xai_eval.studies.analysis import analysable_answers
    from xai_eval.studies.catalog import task_for
    from xai_eval.studies.monitoring import exclusions as compute_exclusions

    task = task_for(study)
    exclusions = compute_exclusions(session, study) if exclusions is None else exclusions
    included = {e.participant_id for e in exclusions if not e.excluded}
    rows = [(pid, condition, score)
            for pid, condition, _key, _answer, score in analysable_answers(session, study,
                                                                           included)]
    return utility_report(per_participant_accuracy(rows), float(task.chance or 0.5))
