"""The administrator's side of the service: progress, exclusions, exports, status, audit.

Every function takes an open session; the ones that change something (status, export,
admin creation) write an :class:`~xai_eval.db.studies.AuditLog` row and commit.
"""

from __future__ import annotations

import statistics as pystats
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from xai_eval.db.studies import (
    STUDY_STATUSES,
    AdminUser,
    AuditLog,
    Item,
    Participant,
    Response,
    Study,
    TrialInstance,
)
from xai_eval.studies.errors import StudyError


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


def _participants(session: Session, study: Study) -> list[Participant]:
    return list(session.scalars(
        select(Participant).where(Participant.study_id == study.id).order_by(Participant.id)
        .options(selectinload(Participant.trials).selectinload(TrialInstance.response),
                 selectinload(Participant.trials).selectinload(TrialInstance.item))))


def progress(session: Session, study: Study) -> StudyProgress:
    """Participants by status, answers stored, and how evenly the main items are covered."""
    participants = _participants(session, study)
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
    for p in _participants(session, study):
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


def record_audit(session: Session, actor: str, action: str, study: Study | None = None,
                 details: dict[str, Any] | None = None, commit: bool = True) -> AuditLog:
    """Append one audit row (exports, status changes, builds, logins)."""
    row = AuditLog(actor=actor, action=action, study_id=study.id if study else None,
                   details=details or {})
    session.add(row)
    if commit:
        session.commit()
    return row


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


EXPORT_COLUMNS = (
    "study", "participant_id", "platform", "participant_status", "order_index", "trial_kind",
    "item_key", "condition", "image_id", "answer", "correct", "score", "rt_ms", "is_practice",
    "is_attention_check", "side_mapping", "created_at",
)


def export_responses(session: Session, study: Study, actor: str,
                     fmt: str = "csv") -> list[dict[str, Any]]:
    """Every stored answer as flat rows (columns :data:`EXPORT_COLUMNS`); audited.

    Participants appear only by internal id and platform name: no platform ids.
    """
    rows = []
    for p in _participants(session, study):
        for t in p.trials:
            r: Response | None = t.response
            if r is None:
                continue
            rows.append({
                "study": study.slug, "participant_id": p.id, "platform": p.platform,
                "participant_status": p.status, "order_index": t.order_index,
                "trial_kind": t.kind, "item_key": t.item.key, "condition": t.item.condition,
                "image_id": t.item.image_id, "answer": r.answer, "correct": r.correct,
                "score": r.score, "rt_ms": r.rt_ms, "is_practice": r.is_practice,
                "is_attention_check": r.is_attention_check, "side_mapping": r.side_mapping,
                "created_at": r.created_at.isoformat() if r.created_at else None})
    record_audit(session, actor, "export", study, {"format": fmt, "rows": len(rows)})
    return rows


def create_admin(session: Session, username: str, password: str) -> AdminUser:
    """Create (or reset the password of) an administrator; audited."""
    if not username or len(username) > 64:
        raise StudyError("admin username must be 1-64 characters")
    if len(password) < 8:
        raise StudyError("admin password must have at least 8 characters")
    user = session.scalar(select(AdminUser).where(AdminUser.username == username))
    action = "admin_password_reset" if user else "admin_create"
    if user is None:
        user = AdminUser(username=username, password_hash="")
        session.add(user)
    user.set_password(password)
    record_audit(session, "cli", action, None, {"username": username}, commit=False)
    session.commit()
    return user


def authenticate_admin(session: Session, username: str, password: str) -> AdminUser | None:
    """The admin if the password matches, else None (and the login is audited either way)."""
    user = session.scalar(select(AdminUser).where(AdminUser.username == username[:64]))
    ok = user is not None and user.check_password(password)
    if ok and user is not None:
        user.last_login_at = datetime.now(timezone.utc)
    record_audit(session, username[:64], "admin_login" if ok else "admin_login_failed",
                 None, {}, commit=False)
    session.commit()
    return user if ok else None
