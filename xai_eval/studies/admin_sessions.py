"""Server-side admin sessions: what a logged-in admin browser is, and how it ends.

The admin's cookie carries only a random token; the database keeps its SHA-256 in an
:class:`~xai_eval.db.studies.AdminSession` row. Every admin request looks the row up
(:func:`admin_for_session`), so a session ends for every copy of the cookie at once when

- the admin logs out (:func:`end_session`),
- it was idle longer than the idle timeout, or older than the absolute lifetime,
- the admin chooses "log out everywhere" (:func:`end_all_sessions`), or
- the password is reset (``xai-eval admin create``) or the account deleted.

``last_seen_at`` is refreshed at most once a minute (:data:`TOUCH_EVERY`), so browsing
the admin area writes about one row a minute, not one per request.
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import datetime, timedelta, timezone

from sqlalchemy import select, update
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session

from xai_eval.db.studies import AdminSession, AdminUser
from xai_eval.studies.audit import record_audit
from xai_eval.studies.transactions import with_retry

#: Defaults of the idle timeout and the absolute lifetime (the app's config can change both).
IDLE_TIMEOUT = timedelta(minutes=30)
MAX_AGE = timedelta(hours=12)
TOUCH_EVERY = timedelta(minutes=1)
MAX_TOKEN_CHARS = 128


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _aware(value: datetime) -> datetime:
    return value.replace(tzinfo=timezone.utc) if value.tzinfo is None else value


def start_session(session: Session, user: AdminUser) -> str:
    """A new session for ``user``; returns the token for the cookie. Commits."""
    token = secrets.token_urlsafe(32)
    session.add(AdminSession(token_hash=_hash(token), admin_id=user.id))
    session.commit()
    return token


def admin_for_session(session: Session, token: object, idle: timedelta = IDLE_TIMEOUT,
                      max_age: timedelta = MAX_AGE) -> AdminUser | None:
    """The admin a session token belongs to, or None when it is unknown, ended, idle past
    ``idle`` or older than ``max_age``."""
    if not isinstance(token, str) or not token or len(token) > MAX_TOKEN_CHARS:
        return None
    row = session.execute(select(AdminSession, AdminUser)
                          .join(AdminUser, AdminUser.id == AdminSession.admin_id)
                          .where(AdminSession.token_hash == _hash(token))).first()
    if row is None:
        return None
    record, user = row
    now = datetime.now(timezone.utc)
    if record.revoked_at is not None or now - _aware(record.last_seen_at) > idle \
            or now - _aware(record.created_at) > max_age:
        return None
    if now - _aware(record.last_seen_at) > TOUCH_EVERY:
        record.last_seen_at = now
        try:
            session.commit()
        except OperationalError:  # busy database: the next request refreshes it
            session.rollback()
    return user


@with_retry
def end_session(session: Session, token: object) -> None:
    """Log this session out (its token no longer opens anything); audited."""
    if not isinstance(token, str) or len(token) > MAX_TOKEN_CHARS:
        return
    row = session.execute(select(AdminSession, AdminUser)
                          .join(AdminUser, AdminUser.id == AdminSession.admin_id)
                          .where(AdminSession.token_hash == _hash(token),
                                 AdminSession.revoked_at.is_(None))).first()
    if row is None:
        return
    row[0].revoked_at = datetime.now(timezone.utc)
    record_audit(session, row[1].username, "admin_logout", None, {}, commit=False)
    session.commit()


@with_retry
def end_all_sessions(session: Session, user: AdminUser) -> int:
    """Log ``user`` out everywhere (every browser, this one included); audited. Returns how
    many sessions were open."""
    result = session.execute(update(AdminSession).where(
        AdminSession.admin_id == user.id, AdminSession.revoked_at.is_(None))
        .values(revoked_at=datetime.now(timezone.utc)))
    count = int(result.rowcount or 0)
    record_audit(session, user.username, "admin_logout_everywhere", None, {"sessions": count},
                 commit=False)
    session.commit()
    return count
