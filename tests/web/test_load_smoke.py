"""A small run of benchmarks/study_load.py with a SIGKILL mid-run: nothing acknowledged lost.

The full benchmark (200 participants) is run by hand; this keeps its machinery and the
server's durability honest in CI on both databases.
"""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path

import pytest

BENCHMARK = Path(__file__).resolve().parents[2] / "benchmarks" / "study_load.py"


def _load_benchmark():
    spec = importlib.util.spec_from_file_location("study_load", BENCHMARK)
    module = importlib.util.module_from_spec(spec)
    sys.modules.setdefault("study_load", module)  # dataclasses look their module up
    spec.loader.exec_module(module)
    return module


@pytest.mark.slow
@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_server_killed_mid_run_loses_no_acknowledged_answer(backend, tmp_path, request):
    args = ["--participants", "6", "--backend", backend, "--trials", "3", "--images", "8",
            "--think-ms", "400", "--ramp-s", "0.5", "--kill-after", "1.5", "--down-s", "0.5",
            "--time-limit", "240", "--json", str(tmp_path / "report.json")]
    if backend == "postgresql":
        args += ["--pg-admin-dsn", request.getfixturevalue("postgres_admin_dsn")]
    assert _load_benchmark().main(args) == 0
    (report,) = json.loads((tmp_path / "report.json").read_text())
    assert report["kill"] is not None, "the run ended before the kill; raise --think-ms"
    assert report["completed"] == 6
    durability = report["durability"]
    assert durability["acknowledged"] == durability["stored"] == 6 * (3 + 3)
    assert durability["lost"] == durability["duplicated"] == 0
