"""Watching a running study: progress, who is excluded and why, status, finding a person.

Every function takes an open session; the ones that change or reveal something (a status
change, a participant lookup by platform id) write an audit row and commit. Part of the
admin service (:mod:`xai_eval.studies.admin_service`).
"""

from __future__ import annotations

import statistics as pystats
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from xai_eval.db.studies import (
    STUDY_STATUSES,
    Item,
    Participant,
    Study,
    TrialInstance,
)
from xai_eval.studies.audit import record_audit
from xai_eval.studies.errors import StudyError
from xai_eval.studies.platform import hash_platform_id


@dataclass(frozen=True)
class StudyProgress:
    """Live counts for the admin dashboard."""

    study: str
    status: str
    participants: dict[str, int]  # status -> count
    responses: int
    main_items: int
    ratings_per_item_min: int
    ratings_per_item_max: int
    target_ratings_per_item: int | None


@dataclass(frozen=True)
class ExclusionRules:
    """When a participant's data are left out of the results (shown next to the results).

    ``min_attention_pass``: share of attention checks that must be passed;
    ``min_median_rt_ms``: median response time over main trials below which the
    participant is judged to click through. Only completed participants are analysed.
    """

    min_attention_pass: float = 1.0
    min_median_rt_ms: int = 500

    def describe(self) -> str:
        return (f"excluded: passed fewer than {self.min_attention_pass:.0%} of the attention "
                f"checks, or median response time under {self.min_median_rt_ms} ms on the "
                "main trials; only completed participants are analysed")

    @classmethod
    def from_study(cls, study: Study) -> ExclusionRules:
        raw = study.parameters.get("exclusion", {}) or {}
        return cls(**{k: v for k, v in raw.items() if k in cls.__dataclass_fields__})


@dataclass(frozen=True)
class ParticipantExclusion:
    participant_id: int
    excluded: bool
    reasons: list[str] = field(default_factory=list)
    attention_passed: int = 0
    attention_total: int = 0
    median_rt_ms: float | None = None


def participants_with_answers(session: Session, study: Study) -> list[Participant]:
    """Every participant of ``study`` with their trials, items and responses loaded."""
    return list(session.scalars(
        select(Participant).where(Participant.study_id == study.id).order_by(Participant.id)
        .options(selectinload(Participant.trials).selectinload(TrialInstance.response),
                 selectinload(Participant.trials).selectinload(TrialInstance.item))))


def progress(session: Session, study: Study) -> StudyProgress:
    """Participants by status, answers stored, and how evenly the main items are covered."""
    participants = participants_with_answers(session, study)
    by_status = Counter(p.status for p in participants)
    mains = list(session.scalars(select(Item.id).where(Item.study_id == study.id,
                                                       Item.kind == "main")))
    rated = Counter(t.item_id for p in participants if p.status in ("started", "completed")
                    for t in p.trials if t.kind == "main" and t.response is not None)
    counts = [rated.get(i, 0) for i in mains] or [0]
    target = study.parameters.get("ratings_per_item")
    return StudyProgress(
        study=study.slug, status=study.status, participants=dict(by_status),
        responses=sum(1 for p in participants for t in p.trials if t.response is not None),
        main_items=len(mains), ratings_per_item_min=min(counts),
        ratings_per_item_max=max(counts),
        target_ratings_per_item=int(target) if target is not None else None)


def exclusions(session: Session, study: Study,
               rules: ExclusionRules | None = None) -> list[ParticipantExclusion]:
    """For every completed participant: excluded or not, and the rule(s) that applied."""
    rules = rules or ExclusionRules.from_study(study)
    out = []
    for p in participants_with_answers(session, study):
        if p.status != "completed":
            continue
        checks = [t.response for t in p.trials if t.kind == "attention" and t.response]
        passed = sum(bool(r.correct) for r in checks)
        rts = [t.response.rt_ms for t in p.trials if t.kind == "main" and t.response]
        median = float(pystats.median(rts)) if rts else None
        reasons = []
        if checks and passed / len(checks) < rules.min_attention_pass:
            reasons.append(f"attention checks passed {passed}/{len(checks)}")
        if median is not None and median < rules.min_median_rt_ms:
            reasons.append(f"median response time {median:.0f} ms < {rules.min_median_rt_ms} ms")
        out.append(ParticipantExclusion(p.id, bool(reasons), reasons, passed, len(checks),
                                        median))
    return out


def set_study_status(session: Session, study: Study, status: str, actor: str) -> Study:
    """Open, pause or close a study (audited)."""
    if status not in STUDY_STATUSES:
        raise StudyError(f"unknown study status {status!r}; choose one of {STUDY_STATUSES}")
    old = study.status
    study.status = status
    record_audit(session, actor, "study_status", study, {"from": old, "to": status},
                 commit=False)
    session.commit()
    return study


@dataclass(frozen=True)
class ParticipantSummary:
    """One participant as the researcher sees them (no token, no platform ids)."""

    participant_id: int
    platform: str
    status: str
    started_at: datetime | None
    finished_at: datetime | None
    answered: int
    trials: int
    completion_code: str | None


def find_participant(session: Session, study: Study, platform_id: str, id_key: bytes,
                     actor: str) -> ParticipantSummary | None:
    """The participant of ``study`` whose Prolific PID / MTurk workerId is ``platform_id``
    (for support requests and withdrawals), or None. Audited, found or not.

    The id is hashed with the study's salt and ``id_key`` as at enrolment, so ``id_key``
    must be the server's (:func:`~xai_eval.studies.platform.platform_id_key` of the same
    configuration); no raw id is ever compared or stored.
    """
    id_hash = hash_platform_id(platform_id.strip(), study.id_salt, id_key)
    participant = session.scalar(select(Participant).where(
        Participant.study_id == study.id, Participant.platform_id_hash == id_hash)
        .options(selectinload(Participant.trials).selectinload(TrialInstance.response)))
    record_audit(session, actor, "participant_lookup", study,
                 {"found": participant is not None}, commit=False)
    session.commit()
    if participant is None:
        return None
    trials = participant.trials
    return ParticipantSummary(
        participant.id, participant.platform, participant.status, participant.started_at,
        participant.finished_at, sum(t.response is not None for t in trials), len(trials),
        participant.completion_code)

