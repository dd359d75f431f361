"""How the admin page shows a study's results (numbers from :mod:`xai_eval.studies.analysis`).

The analysis module selects the analysable answers and computes every statistic with
scipy/statsmodels; this module only formats them (percentages, CI ranges, the tests'
names) and states the pairwise comparisons as sentences. Exports use the raw numbers
(:meth:`~xai_eval.studies.analysis.StudyStatistics.rows`), not these strings.
"""

from __future__ import annotations

from typing import Any

from xai_eval.studies.admin_service import StudyStatistics


def _fmt(value: Any, percent: bool = False) -> Any:
    if value is None:
        return "–"
    if isinstance(value, float):
        return f"{100 * value:.2f}%" if percent else f"{value:.4g}"
    return value


def display_rows(results: StudyStatistics) -> tuple[list[str], list[list[Any]]]:
    """Headers and formatted cells, one row per condition (explainer)."""
    rows = results.rows()
    if results.kind == "accuracy":
        chance = f" (vs {results.chance:.0%})" if results.chance else ""
        headers = ["explainer", "participants", "answers", "accuracy", "Wilson 95% CI",
                   f"binomial p{chance}", "Fleiss' kappa"]
        cells = [[r["condition"], r["participants"], r["answers"], _fmt(r.get("accuracy"), True),
                  f"{_fmt(r.get('ci_low'), True)} – {_fmt(r.get('ci_high'), True)}",
                  _fmt(r.get("p_value")), _fmt(r.get("fleiss_kappa"))] for r in rows]
    else:
        headers = ["explainer", "participants", "answers", "mean rating",
                   "bootstrap 95% CI (by participant)", "Wilcoxon p (vs 0)", "Fleiss' kappa"]
        cells = [[r["condition"], r["participants"], r["answers"], _fmt(r.get("mean")),
                  f"{_fmt(r.get('ci_low'))} – {_fmt(r.get('ci_high'))}",
                  _fmt(r.get("p_value")), _fmt(r.get("fleiss_kappa"))] for r in rows]
    return headers, cells


def notes(results: StudyStatistics) -> list[str]:
    """The tests' names and the pairwise comparisons, as sentences."""
    if results.kind == "accuracy":
        lines = ["Accuracy: Wilson score interval; exact two-sided binomial test against "
                 "chance (scipy.stats.binomtest)."]
    else:
        lines = ["Ratings recoded so + means the stronger model; CI: bootstrap resampling "
                 "whole participants; Wilcoxon signed-rank on per-participant means."]
    for comparison in results.comparisons:
        lines.append(f"{comparison.a} vs {comparison.b}: Mann-Whitney U = "
                     f"{comparison.u_statistic:.1f}, p = {comparison.p_value:.3g} "
                     "(per-participant means).")
    return lines


def as_table(results: StudyStatistics) -> dict[str, Any]:
    """Everything the results section of ``admin/study.html`` needs."""
    headers, rows = display_rows(results)
    return {"headers": headers, "rows": rows, "included": results.included,
            "completed": results.completed, "notes": notes(results)}
