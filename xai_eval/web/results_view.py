"""Human results per condition (explainer), computed from the included participants.

The statistics themselves come from :mod:`xai_eval.studies.statistics` (scipy/statsmodels);
this module only selects the analysable answers — completed, non-excluded participants,
main trials only — groups them by the item's condition, and lays the numbers out for the
admin page, the chart and the exports.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from xai_eval.db.studies import Item, Response, Study, TrialInstance


@dataclass
class ConditionResult:
    condition: str
    participants: int
    n: int
    values: list[float]
    #: the participant of each value (the clusters of the bootstrap)
    clusters: list[int] = field(default_factory=list)
    #: item key -> answers, the input of the agreement statistic
    answers_by_item: dict[str, list[Any]] = field(default_factory=dict)
    stats: dict[str, Any] = field(default_factory=dict)


@dataclass
class StudyResults:
    task: str
    kind: str  # "accuracy" | "rating"
    completed: int
    included: int
    conditions: list[ConditionResult]
    chance: float | None = None
    comparisons: list[Any] = field(default_factory=list)


def analysable_answers(session: Session, study: Study, included: set[int]
                       ) -> list[tuple[int, str, str, float | None, Any]]:
    """(participant, condition, item key, score, raw answer) of every main answer analysed."""
    if not included:
        return []
    rows = session.execute(
        select(Response.participant_id, Item.condition, Item.key, Response.score,
               Response.answer)
        .join(TrialInstance, TrialInstance.id == Response.trial_id)
        .join(Item, Item.id == TrialInstance.item_id)
        .where(Item.study_id == study.id, TrialInstance.kind == "main",
               Response.participant_id.in_(sorted(included))))
    return [tuple(row) for row in rows]  # type: ignore[misc]


def study_results(session: Session, study: Study, exclusions: list[Any]) -> StudyResults:
    """Group the analysable answers by condition and compute each condition's statistics."""
    from xai_eval.studies import service

    task = service.task_for(study)
    kind = "rating" if task.response_kind == "rating" else "accuracy"
    completed = {e.participant_id for e in exclusions}
    included = {e.participant_id for e in exclusions if not e.excluded}
    grouped: dict[str, ConditionResult] = {}
    for pid, condition, key, score, answer in analysable_answers(session, study, included):
        if score is None:
            continue
        group = grouped.setdefault(condition, ConditionResult(condition, 0, 0, []))
        group.values.append(float(score))
        group.clusters.append(pid)
        # agreement on what people chose: the category name, or the recoded rating
        group.answers_by_item.setdefault(key, []).append(
            answer if kind == "accuracy" else float(score))
    for group in grouped.values():
        group.n = len(group.values)
        group.participants = len(set(group.clusters))
    results = StudyResults(task.name, kind, len(completed), len(included),
                           [grouped[c] for c in sorted(grouped)], chance=task.chance)
    from xai_eval.web import results_statistics

    results_statistics.fill(results, seed=int(study.parameters.get("seed", 0) or 0))
    return results


def as_table(results: StudyResults) -> dict[str, Any]:
    """Headers, formatted rows and notes for the admin page."""
    from xai_eval.web import results_statistics

    headers, rows = results_statistics.display_rows(results)
    return {"headers": headers, "rows": rows, "included": results.included,
            "completed": results.completed, "notes": results_statistics.notes(results)}


def as_rows(results: StudyResults) -> list[dict[str, Any]]:
    """One flat row per condition (what the results CSV/JSON export contains)."""
    from xai_eval.web import results_statistics

    return [results_statistics.row(results, c) for c in results.conditions]
