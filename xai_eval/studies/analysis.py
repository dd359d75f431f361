"""A study's results from its stored answers: per-condition statistics, agreement, comparisons.

Only *analysable* answers count: main trials (no practice, no attention checks) of
completed participants who are not excluded (:func:`~xai_eval.studies.monitoring.exclusions`).
Conditions are the items' ``condition`` (the explainer). The numbers come from
:mod:`xai_eval.studies.statistics`:

- choice tasks (chance given): accuracy, Wilson 95% CI, exact binomial test vs chance;
- rating tasks: mean of the recoded rating (+ = the stronger model), cluster-bootstrap 95%
  CI by participant, Wilcoxon signed-rank on per-participant means;
- agreement: Fleiss' kappa over the items' answers (per condition);
- comparisons: Mann-Whitney U between conditions on per-participant means.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from xai_eval.db.studies import Item, Response, Study, TrialInstance
from xai_eval.studies import statistics as st
from xai_eval.studies.catalog import task_for
from xai_eval.studies.monitoring import ParticipantExclusion
from xai_eval.studies.monitoring import exclusions as compute_exclusions


@dataclass
class ConditionStatistics:
    """One condition's numbers (``stats`` holds the keys of ``condition_statistics``)."""

    condition: str
    participants: int
    answers: int
    stats: dict[str, Any]
    agreement: st.Agreement | None = None


@dataclass
class StudyStatistics:
    task: str
    kind: str  # "accuracy" | "rating"
    chance: float | None
    completed: int
    included: int
    conditions: list[ConditionStatistics] = field(default_factory=list)
    comparisons: list[st.Comparison] = field(default_factory=list)
    seed: int = 0

    def rows(self) -> list[dict[str, Any]]:
        """One flat row per condition (for tables, CSV and JSON exports)."""
        out = []
        for c in self.conditions:
            row: dict[str, Any] = {"condition": c.condition, "participants": c.participants,
                                   "answers": c.answers, **c.stats}
            row["fleiss_kappa"] = c.agreement.kappa if c.agreement else None
            out.append(row)
        return out


def analysable_answers(session: Session, study: Study, included: set[int]
                       ) -> list[tuple[int, str, str, Any, float | None]]:
    """(participant id, condition, item key, raw answer, score) of the analysed answers."""
    if not included:
        return []
    rows = session.execute(
        select(Response.participant_id, Item.condition, Item.key, Response.answer,
               Response.score)
        .join(TrialInstance, TrialInstance.id == Response.trial_id)
        .join(Item, Item.id == TrialInstance.item_id)
        .where(Item.study_id == study.id, TrialInstance.kind == "main",
               Response.participant_id.in_(sorted(included))))
    return [tuple(r) for r in rows]  # type: ignore[misc]


def study_statistics(session: Session, study: Study,
                     exclusions: list[ParticipantExclusion] | None = None,
                     seed: int = 0) -> StudyStatistics:
    """Compute the results of ``study`` (``exclusions`` from monitoring, computed if None)."""
    task = task_for(study)
    exclusions = compute_exclusions(session, study) if exclusions is None else exclusions
    included = {e.participant_id for e in exclusions if not e.excluded}
    kind = "rating" if task.response_kind == "rating" else "accuracy"
    result = StudyStatistics(task.name, kind, task.chance, len(exclusions), len(included),
                             seed=seed)
    scores: dict[str, list[float]] = defaultdict(list)
    people: dict[str, list[int]] = defaultdict(list)
    per_item: dict[str, dict[str, list[Any]]] = defaultdict(lambda: defaultdict(list))
    for pid, condition, key, answer, score in analysable_answers(session, study, included):
        if score is None:
            continue
        scores[condition].append(float(score))
        people[condition].append(pid)
        # agreement on what people *meant*: the recoded value (sides already undone)
        per_item[condition][key].append(score if kind == "rating" else answer)
    per_participant: dict[str, list[float]] = {}
    for condition in sorted(scores):
        stats = st.condition_statistics(kind, scores[condition], people[condition],
                                        task.chance, seed)
        agreement = st.fleiss_kappa_from_ratings(per_item[condition])
        result.conditions.append(ConditionStatistics(
            condition, len(set(people[condition])), len(scores[condition]), stats, agreement))
        per_participant[condition] = list(st.cluster_means(scores[condition],
                                                           people[condition]))
    result.comparisons = st.compare_conditions(per_participant)
    return result


def study_seed(study: Study) -> int:
    """The study's seed, so the bootstrap CIs on the admin page and in exports agree."""
    return int(study.parameters.get("seed", 0) or 0)


def study_results(session: Session, study: Study,
                  exclusions: list[ParticipantExclusion] | None = None) -> StudyStatistics:
    """:func:`study_statistics` with the study's own seed (what the admin area shows)."""
    return study_statistics(session, study, exclusions, seed=study_seed(study))
