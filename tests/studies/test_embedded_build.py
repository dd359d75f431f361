"""`xai-eval study build` end to end on the embedded benchmark.

The benchmark comes from the session fixture (trained once per machine, then cached); the
shipped definitions are shrunk to a few items to stay quick.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from xai_eval.db.base import make_engine, session_factory
from xai_eval.studies import participant_service as service
from xai_eval.studies.platform import PlatformVisit

pytestmark = pytest.mark.slow
STUDIES = Path(__file__).parents[2] / "studies"


@pytest.mark.parametrize("name", ["class_discrimination", "trust"])
def test_build_and_take_the_shipped_study(name, tmp_path, db_url, embedded_benchmark):
    from xai_eval.cli import main

    data = yaml.safe_load((STUDIES / f"{name}.yaml").read_text())
    data["parameters"].update(max_items=3, trials_per_participant=3)
    path = tmp_path / f"{name}.yaml"
    path.write_text(yaml.safe_dump(data))
    runner = CliRunner()
    result = runner.invoke(main, ["study", "build", str(path), "--db", db_url])
    assert result.exit_code == 0, result.output
    assert f"study '{name}' built" in result.output
    again = runner.invoke(main, ["study", "build", str(path), "--db", db_url])
    assert "up to date" in again.output
    engine = make_engine(db_url)
    try:
        with session_factory(engine)() as s:
            started = service.start_or_resume(s, service.get_study(s, name), PlatformVisit())
            view = service.next_trial(s, started.token)
            position = view.stimuli[0].position
            picture = service.trial_stimulus(s, started.token, view.trial_id, position)
            assert picture.data.startswith(b"\x89PNG")
    finally:
        engine.dispose()
