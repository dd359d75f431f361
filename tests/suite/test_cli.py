"""The suite commands: --help, clean errors, and a run killed mid-way then resumed."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner
from sqlalchemy import create_engine, text

from xai_eval.cli import main

from .conftest import FAKE_PLUGIN_FILE, suite_dict


@pytest.mark.parametrize("command", ["run", "demo", "gapify"])
def test_every_command_explains_itself(command):
    result = CliRunner().invoke(main, [command, "--help"])
    assert result.exit_code == 0, result.output
    assert "Usage: main " + command in result.output or f"{command} [OPTIONS]" in result.output
    assert len(result.output.splitlines()) > 8


def test_run_with_unknown_names_exits_with_the_available_ones(tmp_path):
    suite = tmp_path / "suite.yaml"
    suite.write_text(yaml.safe_dump(suite_dict(tmp_path, explainers=["gradkam"])))
    result = CliRunner().invoke(main, ["run", str(suite), "--db", f"sqlite:///{tmp_path}/x.db"])
    assert result.exit_code == 1
    assert "unknown explainer 'gradkam'; available:" in result.output
    assert "gradcam" in result.output and "Traceback" not in result.output


def test_gapify_arguments_are_validated():
    result = CliRunner().invoke(main, ["gapify", "--model", "x", "--cut-at", "y",
                                       "--dataset", "embedded", "--out", "o.pth",
                                       "--pool", "median"])
    assert result.exit_code == 2 and "'median' is not one of 'avg', 'max'" in result.output


def _cli(args: list[str], plugins: Path, env: dict[str, str] | None = None, **kwargs):
    command = [sys.executable, "-m", "xai_eval.cli", "--plugins-dir", str(plugins), *args]
    full_env = {**os.environ, "XAI_EVAL_DATABASE_URL": "", **(env or {})}
    return subprocess.Popen(command, env=full_env, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True, **kwargs)


def _units(db: Path) -> int:
    if not db.exists():
        return 0
    engine = create_engine(f"sqlite:///{db}")
    try:
        with engine.connect() as connection:
            return int(connection.execute(text("select count(*) from run_units")).scalar() or 0)
    except Exception:  # schema not created yet
        return 0
    finally:
        engine.dispose()


def _rows(db: Path, name: str) -> list[tuple]:
    engine = create_engine(f"sqlite:///{db}")
    with engine.connect() as connection:
        rows = connection.execute(text(
            "select m.model, m.explainer, m.dataset, m.metric, m.image_id, m.class_id, m.\"values\" "
            "from metric_results m join runs r on r.id = m.run_id where r.name = :name "
            "order by 1, 2, 3, 4, 5, 6"), {"name": name}).all()
    engine.dispose()
    return [tuple(r) for r in rows]


@pytest.mark.slow
def test_killed_cli_run_resumes_to_the_same_table(tmp_path, fake_plugin):
    plugins = tmp_path / "plugins"
    plugins.mkdir()
    shutil.copy(FAKE_PLUGIN_FILE, plugins / "fake_suite_plugin.py")
    root = fake_plugin.make_dataset(tmp_path / "data", count=10)
    suite = tmp_path / "suite.yaml"
    data = suite_dict(Path("data"), models=[{"id": "gap", "spec": "fake:gap"}],
                      explainers=["gradcam", "cam"])
    suite.write_text(yaml.safe_dump(data))
    assert root.exists()
    db = tmp_path / "runs.db"
    url = f"sqlite:///{db}"
    out = tmp_path / "out"
    # 1. start a slow run and kill it (SIGKILL: no cleanup at all) after a few units
    process = _cli(["run", str(suite), "--db", url, "--out", str(out), "--no-progress"],
                   plugins, env={"FAKE_SLEEP": "0.3"})
    deadline = time.monotonic() + 120
    while _units(db) < 4 and process.poll() is None and time.monotonic() < deadline:
        time.sleep(0.1)
    assert process.poll() is None, process.communicate()[0]
    process.send_signal(signal.SIGKILL)
    process.wait()
    killed_at = _units(db)
    assert 0 < killed_at < 30
    assert not (out / "report.html").exists()
    # 2. without --resume: a clear error
    rerun = _cli(["run", str(suite), "--db", url, "--no-progress"], plugins)
    output = rerun.communicate(timeout=120)[0]
    assert rerun.returncode == 1 and "Pass --resume" in output, output
    # 3. resume to the end; 4. an uninterrupted run of the same config under another name
    for args in (["--resume", "--out", str(out)], ["--name", "reference", "--out",
                                                  str(tmp_path / "ref")]):
        finish = _cli(["run", str(suite), "--db", url, "--no-progress", *args], plugins)
        output = finish.communicate(timeout=300)[0]
        assert finish.returncode == 0, output
        assert "top-1 err" in output and "fake_hit" in output
    assert _rows(db, "tiny") == _rows(db, "reference")
    assert len(_rows(db, "tiny")) == 10 * 2 * 2 + 10  # + one classification row per image
    for name in ("report.html", "results.csv", "results.json", "results.md"):
        assert (out / name).stat().st_size > 100
    assert (out / "results.csv").read_text() == (tmp_path / "ref" / "results.csv").read_text()


def test_gapify_command_reports_a_bad_model_clearly(tmp_path):
    result = CliRunner().invoke(main, ["gapify", "--model", "nosuchnet", "--cut-at", "x",
                                       "--dataset", "embedded", "--out",
                                       str(tmp_path / "o.pth"), "--epochs", "1"])
    assert result.exit_code == 1, result.output
    assert "no model source accepts 'nosuchnet'" in result.output
    assert "Traceback" not in result.output
