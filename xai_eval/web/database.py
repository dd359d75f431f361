"""One SQLAlchemy session per request, closed on teardown (the Flask-SQLAlchemy-Lite pattern).

The models stay plain SQLAlchemy so the CLI and the metric runner use them without Flask;
this module only binds an engine to the app and hands each request its own session. The
study service commits its own transactions (and retries a locked database), so a view
never commits by itself; teardown closes the session, which rolls back anything left.

SQLite allows one writer at a time, and a transaction that reads first and writes second
(as storing an answer does) cannot wait for the lock when another thread committed in
between: it fails with "database is locked" at once and the service backs off and retries,
which showed up as a long latency tail under load. :func:`write_lock` therefore serialises
the app's own writes inside the process on SQLite (they are serialised by SQLite anyway);
on PostgreSQL it is a no-op.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator

from flask import Flask, current_app, g
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session, sessionmaker

from xai_eval.db.base import make_engine, session_factory

EXTENSION_KEY = "xai_eval_db"


class Binding:
    """What the app holds: the engine and its session factory."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.factory: sessionmaker[Session] = session_factory(engine)
        self.is_sqlite = engine.dialect.name == "sqlite"
        self.sqlite_writes = threading.Lock()


def init_app(app: Flask) -> None:
    """Create the engine for ``app.config['DATABASE_URL']`` and close sessions on teardown."""
    options = {}
    if not app.config["DATABASE_URL"].startswith("sqlite"):
        options = {"pool_size": app.config["DB_POOL_SIZE"],
                   "max_overflow": app.config["DB_MAX_OVERFLOW"]}
    engine = make_engine(app.config["DATABASE_URL"], **options)
    app.extensions[EXTENSION_KEY] = Binding(engine)
    app.teardown_appcontext(close_session)


def binding(app: Flask | None = None) -> Binding:
    return (app or current_app).extensions[EXTENSION_KEY]


def get_session() -> Session:
    """The request's session, opened on first use."""
    if "db_session" not in g:
        g.db_session = binding().factory()
    return g.db_session


def close_session(_exc: BaseException | None = None) -> None:
    session = g.pop("db_session", None)
    if session is not None:
        session.close()


@contextlib.contextmanager
def write_lock() -> Iterator[None]:
    """Hold the process-wide SQLite write lock (no-op on other databases)."""
    bound = binding()
    if not bound.is_sqlite:
        yield
        return
    with bound.sqlite_writes:
        yield
