"""How the services write: take SQLite's write lock first, retry when the database is busy.

The participant service's writes (a start, an answer) are decorated with
:func:`with_retry`, call :func:`begin_write` before their first read and commit their own
transaction before they return, so a returned value means the write is durable.

SQLite allows one writer at a time: under load a write can fail with "database is locked"
after the busy timeout; PostgreSQL can abort a transaction with a serialization failure or
a deadlock, and a connection can drop. All of these surface as SQLAlchemy
``OperationalError``. The wrapped function gets the session (first argument) rolled back
and is run again from the start, so nothing is half-written; after the last attempt a
:class:`~xai_eval.studies.errors.DatabaseBusyError` says what to do. Before and after each
attempt the SQLite file is checked to be the one the server opened (:func:`check_storage`):
a deleted or replaced file raises :class:`~xai_eval.studies.errors.StorageError` (503), so
no write into a lost file is ever acknowledged.
"""

from __future__ import annotations

import functools
import random
import time
from collections.abc import Callable
from typing import Any, TypeVar

from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session

from xai_eval.db.storage import storage_problem
from xai_eval.studies.errors import DatabaseBusyError, StorageError

F = TypeVar("F", bound=Callable[..., Any])

ATTEMPTS = 5
BASE_DELAY_S = 0.05


def with_retry(fn: F) -> F:
    """Decorate ``fn(session, ...)``: on ``OperationalError`` roll back, back off, rerun."""

    @functools.wraps(fn)
    def wrapper(session: Any, *args: Any, **kwargs: Any) -> Any:
        for attempt in range(ATTEMPTS):
            try:
                check_storage(session)
                result = fn(session, *args, **kwargs)
                check_storage(session)  # committed into a file that is still the database?
                return result
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


def check_storage(session: Session) -> None:
    """:class:`StorageError` when the SQLite file was deleted or replaced under the server
    (:func:`xai_eval.db.storage.storage_problem`): a write there would be lost, so the
    caller must not acknowledge it."""
    problem = storage_problem(session.get_bind())
    if problem:
        raise StorageError(f"{problem}; nothing was saved. The server needs its database "
                           "file restored and a restart; please try again later")


def begin_write(session: Session) -> None:
    """On SQLite, open the transaction with ``BEGIN IMMEDIATE`` (take the write lock first).

    A transaction that reads and then writes starts as a reader; if another connection
    commits in between, SQLite cannot upgrade it and fails with "database is locked" at once,
    without waiting for the busy timeout. Taking the write lock before the first read makes
    writers queue on the busy timeout instead, across threads and processes alike. Nothing
    is done on other databases, or when the session already has a transaction open (a
    caller's pending writes are kept in it).
    """
    if session.get_bind().dialect.name != "sqlite":
        return
    connection = session.connection()
    if not connection.connection.dbapi_connection.in_transaction:
        connection.exec_driver_sql("BEGIN IMMEDIATE")
