"""The SQL foundation every stored thing shares: declarative base, engines, sessions.

SQLite (a file in the working directory) is the embedded default; any SQLAlchemy URL works
(``postgresql+psycopg://postgres@127.0.0.1:5432/test``). The URL comes from ``--db``, else
``XAI_EVAL_DATABASE_URL``, else :data:`DEFAULT_URL`. SQLite connections run in WAL mode
with a busy timeout and foreign keys on, so a web server and a metric runner can share one
file. Schema changes go through Alembic (``migrations/``), always via
:mod:`xai_eval.db.migrate`, which applies them under a cross-process lock.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import MetaData, create_engine, event
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.exc import ArgumentError, OperationalError
from sqlalchemy.orm import DeclarativeBase, Session, sessionmaker

from xai_eval.errors import XaiEvalError

DEFAULT_URL = "sqlite:///xai-eval.db"
ENV_VAR = "XAI_EVAL_DATABASE_URL"

#: Stable constraint names so Alembic migrations are reproducible on every backend.
NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    """Declarative base of every xai-eval table."""

    metadata = MetaData(naming_convention=NAMING_CONVENTION)


class DatabaseError(XaiEvalError, RuntimeError):
    """The database URL is malformed or the server cannot be reached."""


def database_url(url: str | None = None) -> str:
    """The URL to use: explicit, else the environment variable, else the SQLite default."""
    return url or os.environ.get(ENV_VAR) or DEFAULT_URL


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    # The busy timeout first: switching a new file to WAL takes a lock another process may hold.
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()


def make_engine(url: str | None = None, check: bool = True, **kwargs: Any) -> Engine:
    """An engine for ``url``; with ``check``, connect once so a bad URL fails here, clearly."""
    resolved = database_url(url)
    try:
        parsed = make_url(resolved)
    except ArgumentError as exc:
        raise DatabaseError(
            f"cannot parse database URL {resolved!r}: {exc}. Examples: sqlite:///xai-eval.db, "
            "postgresql+psycopg://postgres@127.0.0.1:5432/test"
        ) from None
    if parsed.get_backend_name() == "sqlite":
        database = parsed.database
        if database and database != ":memory:":
            Path(database).expanduser().resolve().parent.mkdir(parents=True, exist_ok=True)
        kwargs.setdefault("connect_args", {"timeout": 30, "check_same_thread": False})
    else:
        kwargs.setdefault("pool_pre_ping", True)
        if parsed.get_backend_name() == "postgresql":
            kwargs.setdefault("connect_args", {"connect_timeout": 10})
    engine = create_engine(parsed, **kwargs)
    if parsed.get_backend_name() == "sqlite":
        event.listen(engine, "connect", _sqlite_pragmas)
        from xai_eval.db.storage import watch

        watch(engine)
    if check:
        try:
            with engine.connect():
                pass
        except OperationalError as exc:
            engine.dispose()
            reason = str(exc.orig).strip().splitlines()[0] if exc.orig else str(exc)
            raise DatabaseError(
                f"cannot connect to the database at {parsed.render_as_string(hide_password=True)}: "
                f"{reason}. Check that the server runs and the URL (--db or {ENV_VAR}) is right"
            ) from None
    return engine


def session_factory(engine: Engine) -> sessionmaker[Session]:
    """A sessionmaker that keeps loaded objects usable after commit."""
    return sessionmaker(engine, expire_on_commit=False)


@contextmanager
def session_scope(factory: sessionmaker[Session]) -> Iterator[Session]:
    """One transaction: commit on success, roll back (and re-raise) on any error."""
    session = factory()
    try:
        yield session
        session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()


def import_all_models() -> None:
    """Import every module that defines tables, so ``Base.metadata`` is complete."""
    from xai_eval.db import results, studies  # noqa: F401  (they register their tables)
