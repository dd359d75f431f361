"""Retry a database transaction when the database is momentarily locked or busy.

SQLite allows one writer at a time: under load a write can fail with "database is locked"
after the busy timeout; PostgreSQL can abort a transaction with a serialization failure or
a deadlock, and a connection can drop. All of these surface as SQLAlchemy
``OperationalError``. The wrapped function gets the session (first argument) rolled back
and is run again from the start, so nothing is half-written; after the last attempt a
:class:`~xai_eval.studies.errors.DatabaseBusyError` says what to do.
"""

from __future__ import annotations

import functools
import random
import time
from collections.abc import Callable
from typing import Any, TypeVar

from sqlalchemy.exc import OperationalError

from xai_eval.studies.errors import DatabaseBusyError

F = TypeVar("F", bound=Callable[..., Any])

ATTEMPTS = 5
BASE_DELAY_S = 0.05


def with_retry(fn: F) -> F:
    """Decorate ``fn(session, ...)``: on ``OperationalError`` roll back, back off, rerun."""

    @functools.wraps(fn)
    def wrapper(session: Any, *args: Any, **kwargs: Any) -> Any:
        for attempt in range(ATTEMPTS):
            try:
                return fn(session, *args, **kwargs)
            except OperationalError as exc:
                session.rollback()
                if attempt == ATTEMPTS - 1:
                    reason = str(exc.orig).strip().splitlines()[0] if exc.orig else str(exc)
                    raise DatabaseBusyError(
                        f"the database stayed busy or unreachable through {ATTEMPTS} attempts "
                        f"({reason}); nothing was saved, please try again in a moment") from None
                time.sleep(BASE_DELAY_S * (2 ** attempt) * (1 + random.random()))
            except BaseException:
                session.rollback()
                raise
        raise AssertionError("unreachable")  # pragma: no cover

    return wrapper  # type: ignore[return-value]
