"""The one way the schema changes: Alembic ``upgrade``/``downgrade`` under a cross-process lock.

Every caller — ``xai-eval run``/``demo`` (the suite runner), ``study build``, ``db upgrade``,
``serve`` — goes through :func:`upgrade`, because any two of them may start at once on an
empty database (torchrun ranks, shards on several machines, a server started next to a
build): two concurrent ``alembic upgrade`` calls race to create the same tables and the
``alembic_version`` row. PostgreSQL serialises them with a session advisory lock, SQLite
with an exclusive ``flock`` on a lock file next to the database file (inside the lock,
also because the first connections switch the file to WAL mode, which fails with
"database is locked" when two processes do it at the same moment). The second caller then
finds the schema current and Alembic does nothing. Other backends run unlocked.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from sqlalchemy import text

from xai_eval.db.base import database_url, make_engine

#: arbitrary constant: the advisory-lock key of xai-eval schema changes ("XAIE")
ADVISORY_KEY = 0x5841_4945


def migrations_dir() -> Path:
    """The Alembic scripts folder (top-level ``migrations/`` of the source tree)."""
    return Path(__file__).resolve().parents[2] / "migrations"


def alembic_config(url: str | None = None) -> Any:
    """An Alembic Config pointing at ``migrations/`` and ``url`` (no alembic.ini needed)."""
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(migrations_dir()))
    config.set_main_option("sqlalchemy.url", database_url(url).replace("%", "%%"))
    return config


def lock_path(database: str) -> Path:
    """The lock file that serialises schema changes of the SQLite file ``database``."""
    path = Path(database).expanduser().resolve()
    return path.with_name(path.name + ".migrate-lock")


@contextlib.contextmanager
def _sqlite_lock(database: str | None) -> Iterator[None]:
    if not database or database == ":memory:":
        yield  # private to one connection: nobody to race with
        return
    import fcntl

    path = lock_path(database)
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a+") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


@contextlib.contextmanager
def _postgres_lock(url: str) -> Iterator[None]:
    engine = make_engine(url)  # a clear DatabaseError if the server cannot be reached
    try:
        with engine.connect() as connection:
            connection.execute(text("SELECT pg_advisory_lock(:key)"), {"key": ADVISORY_KEY})
            connection.commit()
            try:
                yield
            finally:
                connection.execute(text("SELECT pg_advisory_unlock(:key)"),
                                   {"key": ADVISORY_KEY})
                connection.commit()
    finally:
        engine.dispose()


@contextlib.contextmanager
def migration_lock(url: str | None = None) -> Iterator[None]:
    """Hold the schema-change lock of the database at ``url`` (no-op on other backends)."""
    resolved = database_url(url)
    probe = make_engine(resolved, check=False)  # parses; a clear DatabaseError if malformed
    parsed = probe.url
    probe.dispose()
    backend = parsed.get_backend_name()
    if backend == "postgresql":
        with _postgres_lock(resolved):
            yield
    elif backend == "sqlite":
        with _sqlite_lock(parsed.database):
            yield
    else:
        yield


def upgrade(url: str | None = None, revision: str = "heads") -> None:
    """Apply migrations up to ``revision`` under the lock (creates the schema when empty).

    Raises :class:`~xai_eval.db.base.DatabaseError` (clear text) on a malformed URL or an
    unreachable server.
    """
    from alembic import command

    resolved = database_url(url)
    with migration_lock(resolved):
        # Inside the lock: on SQLite this first connection may switch the file to WAL.
        make_engine(resolved).dispose()  # an unreachable server fails here, clearly
        command.upgrade(alembic_config(resolved), revision)


def current_revisions(url: str | None = None) -> set[str]:
    """The migration heads the database is at (empty for a new database), for messages."""
    from alembic.runtime.migration import MigrationContext

    engine = make_engine(database_url(url))
    try:
        with engine.connect() as connection:
            return set(MigrationContext.configure(connection).get_current_heads())
    finally:
        engine.dispose()


def downgrade(url: str | None = None, revision: str = "base") -> None:
    """Revert migrations down to ``revision`` under the same lock."""
    from alembic import command

    resolved = database_url(url)
    with migration_lock(resolved):
        command.downgrade(alembic_config(resolved), revision)
