"""Human results per condition (explainer), computed from the included participants.

The statistics themselves come from :mod:`xai_eval.studies.statistics` (scipy/statsmodels);
this module only selects the analysable answers — completed, non-excluded participants,
main trials only — groups them by the item's condition, and lays the numbers out for the
admin page, the chart and the exports.
"""

from __future__ import annotations

from collections import defaultdict
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
    stats: dict[str, Any] = field(default_factory=dict)


@dataclass
class StudyResults:
    task: str
    kind: str  # "accuracy" | "rating"
    completed: int
    included: int
    conditions: list[ConditionResult]
    agreement: dict[str, Any] = field(default_factory=dict)
    chance: float | None = None


def analysable_answers(session: Session, study: Study,
                       included: set[int]) -> list[tuple[int, str, str, float | None]]:
    """(participant id, condition, item key, score) of every main-trial answer analysed."""
    if not included:
        return []
    rows = session.execute(
        select(Response.participant_id, Item.condition, Item.key, Response.score)
        .join(TrialInstance, TrialInstance.id == Response.trial_id)
        .join(Item, Item.id == TrialInstance.item_id)
        .where(Item.study_id == study.id, TrialInstance.kind == "main",
               Response.participant_id.in_(sorted(included))))
    return [(pid, condition, key, score) for pid, condition, key, score in rows]


def study_results(session: Session, study: Study, exclusions: list[Any]) -> StudyResults:
    """Group the analysable answers by condition and compute each condition's statistics."""
    from xai_eval.studies import service

    task = service.task_for(study)
    kind = "rating" if task.response_kind == "rating" else "accuracy"
    completed = {e.participant_id for e in exclusions}
    included = {e.participant_id for e in exclusions if not e.excluded}
    answers = analysable_answers(session, study, included)
    by_condition: dict[str, list[float]] = defaultdict(list)
    people: dict[str, set[int]] = defaultdict(set)
    per_item: dict[str, list[float]] = defaultdict(list)
    for pid, condition, key, score in answers:
        if score is None:
            continue
        by_condition[condition].append(float(score))
        people[condition].add(pid)
        per_item[key].append(float(score))
    conditions = [ConditionResult(c, len(people[c]), len(v), v)
                  for c, v in sorted(by_condition.items())]
    results = StudyResults(task.name, kind, len(completed), len(included), conditions,
                           chance=task.chance)
    _add_statistics(results, per_item)
    return results


def _add_statistics(results: StudyResults, per_item: dict[str, list[float]]) -> None:
    from xai_eval.web import results_statistics

    results_statistics.fill(results, per_item)


def as_table(results: StudyResults) -> dict[str, Any]:
    """Headers, rows and notes for the admin page."""
    rows = as_rows(results)
    headers = list(rows[0]) if rows else []
    return {"headers": headers, "rows": [list(r.values()) for r in rows],
            "included": results.included, "completed": results.completed,
            "notes": results_statistics_notes(results)}


def results_statistics_notes(results: StudyResults) -> list[str]:
    from xai_eval.web import results_statistics

    return results_statistics.notes(results)


def as_rows(results: StudyResults) -> list[dict[str, Any]]:
    """One flat row per condition (what the results CSV/JSON export contains)."""
    from xai_eval.web import results_statistics

    return [results_statistics.row(results, c) for c in results.conditions]
