"""A deleted or replaced SQLite file is detected before a write is acknowledged (issue 8):
503, nothing acknowledged, and /healthz says so."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from tests.web.conftest import Participant


@pytest.fixture
def sqlite_file(app, db_url) -> Path:
    if not db_url.startswith("sqlite"):
        pytest.skip("only a SQLite file can be deleted under the server")
    return Path(db_url.removeprefix("sqlite:///"))


def test_health_is_ok_on_both_backends(app):
    response = app.test_client().get("/healthz")
    assert response.status_code == 200 and response.get_json() == {"status": "ok"}


@pytest.mark.parametrize("fault", ["deleted", "replaced"])
def test_no_answer_is_acknowledged_into_a_lost_file(app, sqlite_file, fault):
    participant = Participant(app)
    assert participant.start().status_code == 201
    trial = participant.trial()
    if fault == "deleted":
        os.unlink(sqlite_file)
    else:  # a restore copied over the live file: a new inode at the same path
        copy = sqlite_file.with_suffix(".copy")
        shutil.copy(sqlite_file, copy)
        os.replace(copy, sqlite_file)
    answer = participant.answer(trial["trial_id"], trial["options"][0]["value"])
    assert answer.status_code == 503
    assert answer.get_json()["error"] == "storage_error"
    assert f"was {fault}" in answer.get_json()["message"]
    assert Participant(app).start().status_code == 503  # no enrolment into the lost file
    health = app.test_client().get("/healthz")
    assert health.status_code == 503 and f"was {fault}" in health.get_json()["problem"]


def test_the_service_refuses_even_without_the_web_guard(app, sqlite_file):
    """The participant service checks the file around its own commits too."""
    from xai_eval.studies import participant_service as service
    from xai_eval.studies.errors import StorageError
    from xai_eval.web.database import binding

    participant = Participant(app)
    assert participant.start().status_code == 201
    os.unlink(sqlite_file)
    with binding(app).factory() as session, pytest.raises(StorageError, match="deleted"):
        study = service.get_study(session, "sample")
        service.start_or_resume(session, study)
