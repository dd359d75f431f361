"""One locked migration path: callers racing on an empty database end at one schema, at head.

``study build``, ``db upgrade`` and a suite run start together (a barrier) on an empty
database of each backend. Without the lock they race to create the same tables; with it
exactly one of them creates the schema and the others find it current.
"""

from __future__ import annotations

import importlib.util
import sys
import threading
import time
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from sqlalchemy import inspect, text

from xai_eval.db.base import DatabaseError, make_engine
from xai_eval.db.migrate import alembic_config, lock_path, migration_lock, upgrade

TESTS = Path(__file__).resolve().parents[1]


def _load(name: str, path: Path) -> ModuleType:
    """The suite's fake plugin and the study fakes, shared with their own test areas."""
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


def _heads() -> set[str]:
    from alembic.script import ScriptDirectory

    return set(ScriptDirectory.from_config(alembic_config()).get_heads())


def _stored_revisions(url: str) -> set[str]:
    engine = make_engine(url)
    try:
        with engine.connect() as connection:
            return {row[0] for row in connection.execute(
                text("SELECT version_num FROM alembic_version"))}
    finally:
        engine.dispose()


def _race(*jobs: Any) -> list[BaseException]:
    barrier = threading.Barrier(len(jobs))
    errors: list[BaseException] = []

    def worker(job: Any) -> None:
        barrier.wait()
        try:
            job()
        except BaseException as exc:  # pragma: no cover - the assertion shows it
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(job,)) for job in jobs]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)  # a hang (e.g. a lost lock) fails below
    return errors


@pytest.mark.slow
def test_study_build_db_upgrade_and_suite_run_race_on_an_empty_database(db_url, tmp_path):
    from alembic import command

    from xai_eval.cli.db import db_upgrade
    from xai_eval.models.base import LoadedModel
    from xai_eval.plugins import build_registries
    from xai_eval.studies.build import build_study
    from xai_eval.suite.config import parse_suite
    from xai_eval.suite.runner import RunOptions, SuiteRunner

    fake_plugin = _load("xai_eval_test_fake_plugin", TESTS / "suite" / "fake_plugin.py")
    fakes = _load("xai_eval_test_study_fakes", TESTS / "studies" / "conftest.py")
    registries = build_registries(extra_plugins=[fake_plugin])
    root = fake_plugin.make_dataset(tmp_path / "data", count=4)
    config = parse_suite({
        "name": "race", "batch_size": 2, "topk": 1,
        "models": [{"id": "gap", "spec": "fake:gap"}], "explainers": ["gradcam"],
        "datasets": [{"id": "boxes", "format": "fakeboxes", "root": str(root)}],
        "metrics": ["fake_hit"], "report": {"examples": 1}})
    models = {name: LoadedModel(name, fakes.colour_model(weak=name == "weak"),
                                fakes._preprocess, list(fakes.CLASSES), (32, 32), "2")
              for name in ("strong", "weak")}
    dataset = fakes.FakeDataset(tmp_path / "study_images")
    definition = fakes.write_definition(tmp_path / "study.yaml")
    outcomes: list[Any] = []
    reports: list[Any] = []

    def suite_run() -> None:
        options = RunOptions(db_url=db_url, progress=False, echo=lambda _m: None)
        outcomes.append(SuiteRunner(config, registries, options).run())

    errors = _race(
        lambda: reports.append(build_study(definition, db_url, dataset=dataset, models=models)),
        lambda: db_upgrade.main(["--db", db_url], standalone_mode=False),
        suite_run,
    )
    assert errors == []
    assert outcomes[0].complete and reports[0].stimuli_added > 0
    assert _stored_revisions(db_url) == _heads()
    command.check(alembic_config(db_url))  # the tables are exactly what the models describe
    engine = make_engine(db_url)
    try:
        with engine.connect() as connection:
            assert connection.execute(text("SELECT count(*) FROM stimulus")).scalar() > 0
            assert connection.execute(text("SELECT count(*) FROM run_units")).scalar() > 0
        assert {"runs", "metric_results", "study", "alembic_version"} <= set(
            inspect(engine).get_table_names())
    finally:
        engine.dispose()


def test_the_lock_excludes_a_second_upgrade_until_released(db_url):
    """A held lock blocks another caller's upgrade, which then finds nothing to do."""
    upgrade(db_url)  # the schema exists, so the waiting upgrade is quick once let through
    finished = threading.Event()

    def second() -> None:
        upgrade(db_url)
        finished.set()

    with migration_lock(db_url):
        thread = threading.Thread(target=second)
        thread.start()
        time.sleep(1.0)
        assert not finished.is_set(), "an upgrade ran while another caller held the lock"
    thread.join(timeout=60)
    assert finished.is_set()
    assert _stored_revisions(db_url) == _heads()


def test_sqlite_lock_file_sits_next_to_the_database(sqlite_url):
    upgrade(sqlite_url)
    database = sqlite_url.removeprefix("sqlite:///")
    assert lock_path(database) == Path(database + ".migrate-lock")
    assert lock_path(database).exists()


def test_bad_urls_fail_clearly_before_locking():
    with pytest.raises(DatabaseError, match="cannot parse database URL"):
        upgrade("not a url")
    with pytest.raises(DatabaseError, match="cannot connect to the database"):
        upgrade("postgresql+psycopg://nobody@127.0.0.1:1/none")


@pytest.mark.parametrize("flag", ["--upgrade", "--no-upgrade"])
def test_serve_upgrades_first_unless_told_not_to(sqlite_url, monkeypatch, flag):
    """``serve`` brings an empty database to head through the same path (server stubbed)."""
    import waitress.server
    from click.testing import CliRunner

    from xai_eval.cli import main

    class NoServer:
        effective_port = 0

        def run(self) -> None:
            pass

    monkeypatch.setattr(waitress.server, "create_server", lambda *_a, **_k: NoServer())
    result = CliRunner().invoke(main, ["serve", "--db", sqlite_url, "--port", "0", flag])
    engine = make_engine(sqlite_url)
    try:
        tables = set(inspect(engine).get_table_names())
    finally:
        engine.dispose()
    if flag == "--upgrade":
        assert result.exit_code == 0, result.output
        assert _stored_revisions(sqlite_url) == _heads()
    else:
        assert "alembic_version" not in tables
