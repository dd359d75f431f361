"""The admin login, throttled: what a flood of wrong passwords may cost the server.

:func:`login_admin` is the admin area's only way in. In order:

1. **Blocked?** If the account or the client is blocked (:mod:`xai_eval.studies.throttle`),
   :class:`~xai_eval.studies.errors.ThrottledError` is raised at once, before any password
   hash: a blocked attacker costs one indexed read, never a worker's time.
2. **Hash slots.** At most :data:`HASH_SLOTS` password checks run at once per process; one
   more is refused at once (also 429), so a flood from many addresses cannot take every
   server thread and CPU core from the participants. Nobody ever waits for a slot.
3. **Check.** One password hash, for unknown names too (same cost: response time does not
   tell which names exist).
4. **Record.** Success clears the account's counter and is audited. A failure counts once
   for the account and once for the client, is audited, and a failure that starts a block
   writes an ``admin_login_lockout`` audit row naming the scope and its length.

The block applies to the right password too (that is what makes guessing slow); it lasts
seconds at first and at most 15 minutes, and ``xai-eval admin create`` (a password reset)
clears the account's counter.
"""

from __future__ import annotations

import threading
from datetime import datetime, timezone

from sqlalchemy.orm import Session

from xai_eval.db.studies import AdminUser
from xai_eval.studies import throttle
from xai_eval.studies.accounts import MAX_USERNAME, check_credentials
from xai_eval.studies.audit import record_audit
from xai_eval.studies.errors import ThrottledError
from xai_eval.studies.transactions import with_retry

#: Password checks that may run at the same time in one server process.
HASH_SLOTS = 1
_hash_slots = threading.BoundedSemaphore(HASH_SLOTS)


def login_admin(session: Session, username: str, password: str, client: str) -> AdminUser | None:
    """The admin if ``username``/``password`` match, None if not; :class:`ThrottledError`
    (with ``retry_after`` seconds) when the account or ``client`` (its address) is blocked
    or every hash slot is busy. Commits its counters and audit rows before returning."""
    account = username[:MAX_USERNAME]
    waits = {throttle.LOGIN_CLIENT: throttle.blocked_for(session, throttle.LOGIN_CLIENT, client),
             throttle.LOGIN_ACCOUNT: throttle.blocked_for(session, throttle.LOGIN_ACCOUNT,
                                                          account)}
    session.rollback()  # end the read transaction: the hash below must not hold it
    scope = max(waits, key=lambda s: waits[s])
    if waits[scope]:
        raise ThrottledError(f"too many failed logins; try again in {waits[scope]} s",
                             waits[scope], scope)
    if not _hash_slots.acquire(blocking=False):
        raise ThrottledError("the server is checking other logins; try again in a second", 1)
    try:
        user = check_credentials(session, account, password)
        session.rollback()
    finally:
        _hash_slots.release()
    _record(session, account, client, user)
    return user


@with_retry
def _record(session: Session, account: str, client: str, user: AdminUser | None) -> None:
    """Write the outcome: counters and audit rows, in one transaction (retried if busy)."""
    if user is not None:
        throttle.clear(session, throttle.LOGIN_ACCOUNT, account)
        user.last_login_at = datetime.now(timezone.utc)
        record_audit(session, account, "admin_login", None, {}, commit=False)
        session.commit()
        return
    blocks = {throttle.LOGIN_ACCOUNT: throttle.record_event(
                  session, throttle.LOGIN_ACCOUNT, account, throttle.ACCOUNT_POLICY),
              throttle.LOGIN_CLIENT: throttle.record_event(
                  session, throttle.LOGIN_CLIENT, client, throttle.CLIENT_POLICY)}
    record_audit(session, account, "admin_login_failed", None, {}, commit=False)
    for scope, seconds in blocks.items():
        if seconds:
            record_audit(session, account, "admin_login_lockout", None,
                         {"scope": scope, "seconds": seconds}, commit=False)
    session.commit()
