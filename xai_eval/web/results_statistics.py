"""The statistics of each condition, from :mod:`xai_eval.studies.statistics`, laid out.

Accuracy conditions get the Wilson 95% CI and the exact binomial test against the task's
chance level; rating conditions the participant-cluster bootstrap CI and the Wilcoxon
signed-rank test on per-participant means; every condition gets Fleiss' kappa on what its
raters chose; conditions are compared pairwise with Mann-Whitney U on per-participant
values. Nothing is computed here by hand.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from xai_eval.studies import statistics


def fill(results: Any, seed: int = 0) -> None:
    """Set ``condition.stats`` of every condition and ``results.comparisons``."""
    per_participant: dict[str, list[float]] = {}
    for condition in results.conditions:
        stats = statistics.condition_statistics(results.kind, condition.values,
                                                condition.clusters, results.chance, seed)
        agreement = statistics.fleiss_kappa_from_ratings(condition.answers_by_item)
        stats["fleiss_kappa"] = agreement.kappa
        stats["kappa_items"] = agreement.items
        condition.stats = stats
        sums: dict[int, list[float]] = defaultdict(list)
        for value, participant in zip(condition.values, condition.clusters, strict=True):
            sums[participant].append(value)
        per_participant[condition.condition] = [sum(v) / len(v) for v in sums.values()]
    results.comparisons = statistics.compare_conditions(per_participant)


def _fmt(value: Any, percent: bool = False) -> Any:
    if value is None:
        return "–"
    if isinstance(value, float):
        return f"{100 * value:.2f}%" if percent else f"{value:.4g}"
    return value


def row(results: Any, condition: Any) -> dict[str, Any]:
    """One flat, export-ready row (raw numbers, no formatting)."""
    out: dict[str, Any] = {"condition": condition.condition,
                           "participants": condition.participants, "answers": condition.n}
    out.update(condition.stats)
    return out


def display_rows(results: Any) -> tuple[list[str], list[list[Any]]]:
    """Headers and formatted cells for the admin page."""
    if results.kind == "accuracy":
        headers = ["explainer", "participants", "answers", "accuracy", "Wilson 95% CI",
                   f"binomial p (vs {results.chance:.0%})" if results.chance else "binomial p",
                   "Fleiss' kappa"]
        rows = [[c.condition, c.participants, c.n, _fmt(c.stats.get("accuracy"), True),
                 f"{_fmt(c.stats.get('ci_low'), True)} – {_fmt(c.stats.get('ci_high'), True)}",
                 _fmt(c.stats.get("p_value")), _fmt(c.stats.get("fleiss_kappa"))]
                for c in results.conditions]
    else:
        headers = ["explainer", "participants", "answers", "mean rating",
                   "bootstrap 95% CI (by participant)", "Wilcoxon p (vs 0)", "Fleiss' kappa"]
        rows = [[c.condition, c.participants, c.n, _fmt(c.stats.get("mean")),
                 f"{_fmt(c.stats.get('ci_low'))} – {_fmt(c.stats.get('ci_high'))}",
                 _fmt(c.stats.get("p_value")), _fmt(c.stats.get("fleiss_kappa"))]
                for c in results.conditions]
    return headers, rows


def notes(results: Any) -> list[str]:
    """The tests' names and the pairwise comparisons, as sentences."""
    lines = []
    if results.kind == "accuracy":
        lines.append("Accuracy: Wilson score interval; exact two-sided binomial test against "
                     "chance (scipy.stats.binomtest).")
    else:
        lines.append("Ratings recoded so + means the stronger model; CI: bootstrap resampling "
                     "whole participants; Wilcoxon signed-rank on per-participant means.")
    for comparison in results.comparisons:
        lines.append(f"{comparison.a} vs {comparison.b}: Mann-Whitney U = "
                     f"{comparison.u_statistic:.1f}, p = {comparison.p_value:.3g} "
                     "(per-participant values).")
    return lines
