"""Creating admin accounts (used by ``xai-eval admin create`` and by tests)."""

from __future__ import annotations

from sqlalchemy.exc import OperationalError, ProgrammingError

from xai_eval.db.base import DatabaseError, make_engine, session_factory
from xai_eval.errors import XaiEvalError
from xai_eval.studies.errors import StudyError


class AdminAccountError(XaiEvalError, ValueError):
    """The username or password is not acceptable, or the schema is missing."""


def create_or_update_admin(db_url: str | None, username: str, password: str) -> bool:
    """Store ``username`` with a hash of ``password`` (audited); True if the account is new."""
    from sqlalchemy import select

    from xai_eval.db.studies import AdminUser
    from xai_eval.studies.service import create_admin

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
