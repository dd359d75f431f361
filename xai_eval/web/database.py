"""One SQLAlchemy session per request, closed on teardown (the Flask-SQLAlchemy-Lite pattern).

The models stay plain SQLAlchemy so the CLI and the metric runner use them without Flask;
this module only binds an engine to the app and hands each request its own session. The
study service commits its own transactions (and retries a locked database), so a view
never commits by itself; teardown closes the session, which rolls back anything left.

SQLite allows one writer at a time. The study service opens its write transactions with
``BEGIN IMMEDIATE``, so writers (threads or other processes) queue on SQLite's busy timeout
instead of failing a read-then-write upgrade. :func:`write_lock` additionally serialises
the app's own writes inside the process on SQLite (they are serialised by SQLite anyway):
SQLite's busy handler polls with sleeps of up to 100 ms, a thread lock hands over at once.
Measured with ``benchmarks/study_load.py --participants 200 --backend sqlite --think-ms
10000 --ramp-s 20`` on a shared 2-core machine (one run each, so only indicative): without
the lock answers had p99 30.5 ms, max 341 ms; with it p99 25.3 and 26.4 ms, max 49 and 138 ms
(the 138 ms stall hit reads too). No errors and nothing lost either way: the lock is not
needed for correctness, but it is cheap and trims the tail, so it stays. On PostgreSQL it is
a no-op.
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
