"""Admin accounts and their authentication: the admin service's one place for both.

An administrator is a row of :class:`~xai_eval.db.studies.AdminUser` with a werkzeug
password hash. Accounts are made with ``xai-eval admin create`` (:func:`create_or_update_admin`);
the admin area's login calls :func:`authenticate_admin` and each admin request looks its
user up again with :func:`admin_by_id` (a deleted account is logged out at once). Every
account change and every login attempt, failed or not, is written to the audit log.
"""

from __future__ import annotations

import functools
import secrets
from datetime import datetime, timezone

from sqlalchemy import select, update
from sqlalchemy.exc import OperationalError, ProgrammingError
from sqlalchemy.orm import Session
from werkzeug.security import check_password_hash, generate_password_hash

from xai_eval.db.base import DatabaseError, make_engine, session_factory
from xai_eval.db.studies import AdminSession, AdminUser
from xai_eval.errors import XaiEvalError
from xai_eval.studies import throttle
from xai_eval.studies.audit import record_audit
from xai_eval.studies.errors import StudyError

MAX_USERNAME = 64
MIN_PASSWORD = 8
#: Longest password read (a longer one is refused unhashed: hashing costs CPU).
MAX_PASSWORD = 256


class AdminAccountError(XaiEvalError, ValueError):
    """The username or password is not acceptable, or the schema is missing."""


def create_admin(session: Session, username: str, password: str) -> AdminUser:
    """Create (or reset the password of) an administrator; audited."""
    if not username or len(username) > MAX_USERNAME:
        raise StudyError(f"admin username must be 1-{MAX_USERNAME} characters")
    if len(password) < MIN_PASSWORD:
        raise StudyError(f"admin password must have at least {MIN_PASSWORD} characters")
    user = session.scalar(select(AdminUser).where(AdminUser.username == username))
    action = "admin_password_reset" if user else "admin_create"
    if user is None:
        user = AdminUser(username=username, password_hash="")
        session.add(user)
    user.set_password(password)
    if user.id is not None:  # a new password ends every open admin session of the account
        session.execute(update(AdminSession).where(AdminSession.admin_id == user.id,
                                                   AdminSession.revoked_at.is_(None))
                        .values(revoked_at=datetime.now(timezone.utc)))
    throttle.clear(session, throttle.LOGIN_ACCOUNT, username)
    record_audit(session, "cli", action, None, {"username": username}, commit=False)
    session.commit()
    return user


@functools.cache
def _dummy_hash() -> str:
    """A hash made like a real account's, checked when the account does not exist, so the
    answer takes as long for an unknown name as for a wrong password (no name probing)."""
    return generate_password_hash(secrets.token_hex(16))


def check_credentials(session: Session, username: str, password: str) -> AdminUser | None:
    """The admin if the password matches, else None; one password hash is checked either
    way (unknown names cost the same). Writes nothing."""
    user = session.scalar(select(AdminUser).where(AdminUser.username == username[:MAX_USERNAME]))
    if user is None:
        check_password_hash(_dummy_hash(), password)
        return None
    return user if check_password_hash(user.password_hash, password) else None


def authenticate_admin(session: Session, username: str, password: str) -> AdminUser | None:
    """The admin if the password matches, else None (and the login is audited either way).
    Unthrottled: the admin area logs in through :func:`xai_eval.studies.login.login_admin`."""
    user = check_credentials(session, username, password)
    ok = user is not None
    if ok and user is not None:
        user.last_login_at = datetime.now(timezone.utc)
    record_audit(session, username[:MAX_USERNAME], "admin_login" if ok else "admin_login_failed",
                 None, {}, commit=False)
    session.commit()
    return user if ok else None


def admin_by_id(session: Session, admin_id: object) -> AdminUser | None:
    """The admin a login session names (None for anything but an existing account's id)."""
    if not isinstance(admin_id, int) or isinstance(admin_id, bool):
        return None
    return session.get(AdminUser, admin_id)


def create_or_update_admin(db_url: str | None, username: str, password: str) -> bool:
    """Store ``username`` with a hash of ``password`` (audited); True if the account is new.

    Opens its own engine (the command line has no app); a missing schema is explained.
    """
    engine = make_engine(db_url)
    session = session_factory(engine)()
    try:
        existed = session.scalar(select(AdminUser.id).where(AdminUser.username == username))
        create_admin(session, username, password)
        return existed is None
    except StudyError as exc:
        raise AdminAccountError(str(exc)) from None
    except (OperationalError, ProgrammingError) as exc:
        if "admin_user" in str(exc):
            raise AdminAccountError("the database has no admin table yet; run "
                                    "`xai-eval db upgrade --db URL` first") from None
        raise DatabaseError(str(exc.orig)) from None
    finally:
        session.close()
        engine.dispose()
