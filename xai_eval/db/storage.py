"""Is the SQLite file the server writes still the one it opened?

A SQLite connection keeps writing to the file it opened, even after that file was deleted
or replaced on disk (``rm``, a restore copied over it, a volume remounted). Every write
then "succeeds" into an unlinked inode and is gone at the next restart: the server answered
201 for answers that were lost (issue 8). :func:`storage_problem` compares the file's
device and inode with those seen when the engine first connected; the study service calls
it before and after each write (:mod:`xai_eval.studies.transactions`) so nothing is
acknowledged from a file that is no longer the database, and the web app's health endpoint
reports it. Other databases (PostgreSQL) have no file to lose here: always fine.
"""

from __future__ import annotations

import os
import threading
import weakref
from pathlib import Path

from sqlalchemy import event
from sqlalchemy.engine import Engine

_identities: weakref.WeakKeyDictionary[Engine, tuple[int, int]] = weakref.WeakKeyDictionary()
_lock = threading.Lock()


def sqlite_file(engine: Engine) -> Path | None:
    """The database file of a SQLite engine (None for memory databases and other backends)."""
    if engine.dialect.name != "sqlite":
        return None
    database = engine.url.database
    if not database or database == ":memory:" or database.startswith("file:"):
        return None
    return Path(database).expanduser().resolve()


def _identity(path: Path) -> tuple[int, int] | None:
    try:
        info = os.stat(path)
    except FileNotFoundError:
        return None
    return info.st_dev, info.st_ino


def watch(engine: Engine) -> None:
    """Remember the file identity at the engine's first connection (called by make_engine)."""
    path = sqlite_file(engine)
    if path is None:
        return

    def remember(_dbapi_connection: object, _record: object) -> None:
        with _lock:
            if engine not in _identities:
                found = _identity(path)
                if found is not None:
                    _identities[engine] = found

    event.listen(engine, "connect", remember)


def storage_problem(engine: Engine) -> str | None:
    """None when the engine's database file is the one it opened, else what happened."""
    path = sqlite_file(engine)
    if path is None:
        return None
    with _lock:
        expected = _identities.get(engine)
    if expected is None:  # never connected yet: nothing written to lose
        return None
    found = _identity(path)
    if found is None:
        return f"the database file {path} was deleted while the server was running"
    if found != expected:
        return f"the database file {path} was replaced while the server was running"
    return None
