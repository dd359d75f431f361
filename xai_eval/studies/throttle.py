"""Throttle counters in the database: failed logins per account and per client, enrolments
per client.

Why the database: a counter in process memory is per worker process and forgotten at a
restart; a row every thread and process shares is what an attacker cannot reset by being
answered by another worker. Why no sleeping: a delay inside a request holds a server
thread, so a flood of wrong logins used to stall every participant (issue 8). A blocked
key is instead refused at once with the seconds to wait (HTTP 429 + ``Retry-After``).

A :class:`Policy` allows ``threshold`` events per ``window_s``; the event that reaches the
threshold, and each one after it, blocks the key for ``base_s * 2 ** (n - threshold)``
seconds (at most ``max_s``): exponential backoff. A key that stays quiet for ``window_s``
(and is not blocked) starts again from zero. Keys are stored as SHA-256 hashes; the web
layer passes clients as a keyed pseudonym of the address (:mod:`xai_eval.web.clients`),
so the table holds no user names or addresses.

Each update is one write transaction: ``BEGIN IMMEDIATE`` on SQLite, a row lock
(``SELECT ... FOR UPDATE``) on PostgreSQL, so concurrent failures are all counted.
"""

from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from xai_eval.db.studies import RateLimit
from xai_eval.studies.transactions import begin_write

LOGIN_ACCOUNT = "login_account"
LOGIN_CLIENT = "login_client"
ENROL_CLIENT = "enrol_client"


@dataclass(frozen=True)
class Policy:
    """``threshold`` events per ``window_s`` pass; then blocks of ``base_s`` doubling to ``max_s``."""

    threshold: int
    window_s: float
    base_s: float = 1.0
    max_s: float = 900.0

    def block_seconds(self, count: int) -> float:
        """How long the ``count``-th event in a window blocks the key (0: not at all)."""
        if count < self.threshold:
            return 0.0
        return float(min(self.max_s, self.base_s * 2 ** min(count - self.threshold, 30)))


#: 5 wrong passwords for one account, then 1 s, 2 s, 4 s ... up to 15 minutes.
ACCOUNT_POLICY = Policy(threshold=5, window_s=900)
#: 20 wrong passwords from one address (any account names), then the same backoff.
CLIENT_POLICY = Policy(threshold=20, window_s=900)


def key_hash(value: str) -> str:
    """The stored form of an account name or client address."""
    return hashlib.sha256(value.encode("utf-8", "surrogatepass")).hexdigest()


def _now() -> datetime:
    return datetime.now(timezone.utc)


def _aware(value: datetime | None) -> datetime | None:
    """SQLite returns naive datetimes for timezone-aware columns; they are UTC."""
    if value is not None and value.tzinfo is None:
        return value.replace(tzinfo=timezone.utc)
    return value


def blocked_for(session: Session, scope: str, key: str, now: datetime | None = None) -> int:
    """Whole seconds ``key`` is still blocked in ``scope`` (0: free). One indexed read."""
    row = session.execute(select(RateLimit.blocked_until).where(
        RateLimit.scope == scope, RateLimit.key_hash == key_hash(key))).first()
    until = _aware(row[0]) if row is not None else None
    left = (until - (now or _now())).total_seconds() if until is not None else 0.0
    return max(0, math.ceil(left))


def _locked_row(session: Session, scope: str, hashed: str, now: datetime) -> RateLimit:
    """The counter row, created if missing, locked for this transaction."""
    begin_write(session)
    query = select(RateLimit).where(RateLimit.scope == scope, RateLimit.key_hash == hashed)
    row = session.scalars(query.with_for_update()).first()
    if row is not None:
        return row
    row = RateLimit(scope=scope, key_hash=hashed, count=0, window_started_at=now)
    if session.get_bind().dialect.name == "sqlite":  # BEGIN IMMEDIATE: nobody else writes
        session.add(row)
        session.flush()
        return row
    try:
        with session.begin_nested():
            session.add(row)
    except IntegrityError:  # created concurrently: lock theirs
        row = session.scalars(query.with_for_update()).one()
    return row


def record_event(session: Session, scope: str, key: str, policy: Policy,
                 now: datetime | None = None) -> int:
    """Count one event (a failed login, an enrolment) for ``key``; return the seconds the key
    is now blocked (0 if not). Flushes, does not commit: the caller commits it together with
    its audit row."""
    now = now or _now()
    row = _locked_row(session, scope, key_hash(key), now)
    blocked_until = _aware(row.blocked_until)
    started = _aware(row.window_started_at) or now
    quiet = (blocked_until is None or blocked_until <= now) and \
        (now - started).total_seconds() > policy.window_s
    if quiet:
        row.count, row.window_started_at, row.blocked_until = 0, now, None
    row.count += 1
    block = policy.block_seconds(row.count)
    if block:
        row.blocked_until = now + timedelta(seconds=block)
    session.flush()
    return math.ceil(block)


def clear(session: Session, scope: str, key: str) -> None:
    """Forget ``key``'s counter (a successful login of that account). Not committed."""
    row = session.scalars(select(RateLimit).where(
        RateLimit.scope == scope, RateLimit.key_hash == key_hash(key))).first()
    if row is not None:
        session.delete(row)
        session.flush()
