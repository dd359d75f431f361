"""The audit log: who exported, changed, built or logged in to what, and when.

Rows are only appended. Admin actions that change or reveal something (status changes,
exports, participant lookups, builds, account changes, logins) call :func:`record_audit`
in the same transaction as the change; the admin area lists them with :func:`recent_audit`.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from xai_eval.db.studies import AuditLog, Study

#: Rows the admin's audit page shows (newest first).
AUDIT_PAGE = 500


def record_audit(session: Session, actor: str, action: str, study: Study | None = None,
                 details: dict[str, Any] | None = None, commit: bool = True) -> AuditLog:
    """Append one audit row (exports, status changes, builds, logins)."""
    row = AuditLog(actor=actor, action=action, study_id=study.id if study else None,
                   details=details or {})
    session.add(row)
    if commit:
        session.commit()
    return row


def recent_audit(session: Session, limit: int = AUDIT_PAGE) -> list[AuditLog]:
    """The newest ``limit`` audit rows, newest first."""
    return list(session.scalars(select(AuditLog).order_by(AuditLog.id.desc()).limit(limit)))
