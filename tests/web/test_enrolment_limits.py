"""Who may start (issue 8): a per-client enrolment limit, ``require_platform_id``, and a
fixed completion code whenever participants are sent back to Prolific."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from tests.web.conftest import Participant
from xai_eval.db.base import make_engine, session_factory
from xai_eval.db.studies import AuditLog
from xai_eval.db.studies import Participant as ParticipantRow
from xai_eval.studies.definition import parse_definition
from xai_eval.studies.errors import StudyDefinitionError
from xai_eval.testing import create_sample_study, definition


def count(db_url, model, *where):
    engine = make_engine(db_url)
    with session_factory(engine)() as s:
        found = s.scalar(select(func.count()).select_from(model).where(*where))
    engine.dispose()
    return found


def test_one_client_can_start_only_so_many_participants(app, db_url):
    app.config["ENROL_LIMIT_PER_CLIENT"] = 3
    for _ in range(3):
        assert Participant(app).start().status_code == 201
    refused = Participant(app).start()
    assert refused.status_code == 429 and int(refused.headers["Retry-After"]) > 60
    assert "too many new sessions" in refused.get_json()["message"]
    assert count(db_url, ParticipantRow) == 3
    assert count(db_url, AuditLog, AuditLog.action == "enrolment_throttled") == 1
    # another address is unaffected; resuming is never limited
    other = Participant(app)
    started = other.post("/api/studies/sample/sessions", json={},
                         environ_base={"REMOTE_ADDR": "10.1.2.3"})
    assert started.status_code == 201
    again = other.post("/api/studies/sample/sessions", json={})
    assert again.status_code == 200 and again.get_json()["resumed"]


def test_the_limit_can_be_turned_off(app, db_url):
    app.config["ENROL_LIMIT_PER_CLIENT"] = 0
    for _ in range(25):
        assert Participant(app).start().status_code == 201


@pytest.fixture
def platform_only(app, db_url):
    engine = make_engine(db_url)
    with session_factory(engine)() as session:
        create_sample_study(session, slug="platform_only", images=4, trials=2, practice=0,
                            attention=0, parameters={"require_platform_id": True})
    engine.dispose()
    return "platform_only"


def test_require_platform_id_refuses_direct_visits(app, platform_only):
    refused = Participant(app).start(platform_only)
    assert refused.status_code == 403
    assert refused.get_json()["error"] == "platform_id_required"
    assert "from the link on the platform" in refused.get_json()["message"]
    ok = Participant(app).start(platform_only, PROLIFIC_PID="p1", STUDY_ID="s", SESSION_ID="x")
    assert ok.status_code == 201


def test_a_prolific_redirect_needs_a_fixed_completion_code():
    spec = definition("p", 2, 0, 0, completion_redirect=(
        "https://app.prolific.com/submissions/complete?cc={code}"))
    with pytest.raises(StudyDefinitionError, match="fixed code from your Prolific study"):
        parse_definition(spec)
    spec["parameters"]["completion_code"] = "C1A2B3C4"
    assert parse_definition(spec).parameters.completion_code == "C1A2B3C4"
    # other platforms keep the per-participant random code
    spec = definition("p", 2, 0, 0, completion_redirect="https://example.org/done?c={code}")
    assert parse_definition(spec).parameters.completion_code is None
