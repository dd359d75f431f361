"""Shared fixtures: seeding, thread limits, and the two SQL backends every storage test runs on.

Area fixtures live in ``tests/<area>/conftest.py``. ``db_url`` is parametrised over SQLite
(a temporary file) and PostgreSQL (a fresh database per test on 127.0.0.1:5432, dropped
afterwards); the PostgreSQL case skips with the reason only when no server is reachable.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator

import pytest
import torch

PG_ADMIN_DSN = os.environ.get("XAI_EVAL_TEST_PG", "postgresql://postgres@127.0.0.1:5432/postgres")


@pytest.fixture(autouse=True)
def _seed() -> None:
    torch.manual_seed(0)


def pytest_configure(config: pytest.Config) -> None:
    # Two cores shared by two xdist workers: one intra-op thread each avoids oversubscription.
    torch.set_num_threads(1)


@pytest.fixture(scope="session")
def postgres_admin_dsn() -> str:
    """The DSN of the maintenance database, or a skip saying why none is reachable."""
    try:
        import psycopg

        with psycopg.connect(PG_ADMIN_DSN, connect_timeout=3):
            pass
    except Exception as exc:  # pragma: no cover - depends on the machine
        pytest.skip(f"PostgreSQL is not reachable at {PG_ADMIN_DSN}: {exc}")
    return PG_ADMIN_DSN


@pytest.fixture
def pg_url(postgres_admin_dsn: str) -> Iterator[str]:
    """A SQLAlchemy URL of a fresh, empty PostgreSQL database, dropped after the test."""
    import psycopg

    name = f"xai_eval_t_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(postgres_admin_dsn, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    base = postgres_admin_dsn.rsplit("/", 1)[0].replace("postgresql://", "postgresql+psycopg://", 1)
    try:
        yield f"{base}/{name}"
    finally:
        with psycopg.connect(postgres_admin_dsn, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
def sqlite_url(tmp_path) -> str:
    """A SQLAlchemy URL of a fresh SQLite file."""
    return f"sqlite:///{tmp_path / 'xai-eval-test.db'}"


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request: pytest.FixtureRequest, tmp_path) -> str:
    """Each storage test runs on both backends."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'xai-eval-test.db'}"
    return request.getfixturevalue("pg_url")


@pytest.fixture(scope="session")
def embedded_benchmark():
    """The embedded benchmark, generated and trained once per machine (cached, file-locked).

    On a fresh machine the first test that asks for it pays about a minute of CPU; later runs
    reuse ``~/.cache/xai-eval`` (or ``$XAI_EVAL_CACHE``).
    """
    from xai_eval.models.embedded import ensure_embedded_benchmark

    return ensure_embedded_benchmark(progress=False)
