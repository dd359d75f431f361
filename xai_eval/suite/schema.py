"""Bring the database schema to Alembic ``heads`` safely when many workers start at once.

torchrun ranks (or shards on several machines) all start by upgrading the schema; on an
empty database two concurrent ``alembic upgrade`` calls would race to create the same
tables. PostgreSQL serialises them with a session advisory lock, SQLite with an exclusive
lock file next to the database file; the second worker then finds the schema current.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path

from sqlalchemy import text
from sqlalchemy.engine import make_url

from xai_eval.db.base import make_engine, upgrade

#: arbitrary constant: the advisory-lock key of xai-eval schema upgrades
ADVISORY_KEY = 0x5841_4945  # "XAIE"


@contextlib.contextmanager
def _sqlite_lock(database: str | None) -> Iterator[None]:
    if not database or database == ":memory:":
        yield
        return
    import fcntl

    path = Path(database).expanduser().resolve()
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path.with_name(path.name + ".migrate-lock"), "a+") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def ensure_schema(url: str) -> None:
    """Upgrade ``url`` to ``heads`` under a lock (clear error if it cannot be reached)."""
    parsed = make_url(url)
    backend = parsed.get_backend_name()
    if backend == "postgresql":
        engine = make_engine(url)
        try:
            with engine.connect() as connection:
                connection.execute(text("SELECT pg_advisory_lock(:key)"), {"key": ADVISORY_KEY})
                connection.commit()
                try:
                    upgrade(url)
                finally:
                    connection.execute(text("SELECT pg_advisory_unlock(:key)"),
                                       {"key": ADVISORY_KEY})
                    connection.commit()
        finally:
            engine.dispose()
    elif backend == "sqlite":
        # Inside the lock: the first connections switch the file to WAL mode, which fails
        # with "database is locked" when two processes do it at the same moment.
        with _sqlite_lock(parsed.database):
            upgrade(url)
    else:
        upgrade(url)
