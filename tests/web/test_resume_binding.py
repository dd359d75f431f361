"""Resume is bound to the platform's own session (issue 8): a known Prolific/MTurk id alone
takes nothing over; a mismatch is refused, audited and never revokes the holder; a
researcher can allow one re-entry."""

from __future__ import annotations

import re

from sqlalchemy import select

from tests.web.conftest import Participant
from tests.web.test_security import login
from xai_eval.db.base import make_engine, session_factory
from xai_eval.db.studies import AuditLog

PID = {"PROLIFIC_PID": "pid-77", "STUDY_ID": "s"}


def audit(db_url):
    engine = make_engine(db_url)
    with session_factory(engine)() as s:
        rows = [(r.action, r.details) for r in s.scalars(select(AuditLog).order_by(AuditLog.id))]
    engine.dispose()
    return rows


def test_a_known_id_from_another_session_is_refused_and_the_holder_keeps_going(app, db_url):
    holder = Participant(app)
    assert holder.start(**PID, SESSION_ID="own").status_code == 201
    first = holder.trial()
    for attempt in ({"SESSION_ID": "forged"}, {}):
        thief = Participant(app)
        refused = thief.start(**PID, **attempt)
        assert refused.status_code == 403
        body = refused.get_json()
        assert body["error"] == "platform_session_mismatch"
        assert "contact the researcher" in body["message"]
        assert thief.client.get("/api/sessions/current/trial").status_code == 401
    # the holder was not logged out and is still at the same trial
    assert holder.trial()["trial_id"] == first["trial_id"]
    assert holder.answer(first["trial_id"], first["options"][0]["value"]).status_code == 201
    refusals = [d for a, d in audit(db_url) if a == "resume_refused"]
    assert [d["reason"] for d in refusals] == ["another platform session", "no platform session"]


def test_the_same_platform_session_resumes_in_a_new_browser(app):
    holder = Participant(app)
    assert holder.start(**PID, SESSION_ID="own").status_code == 201
    trial = holder.trial()
    again = Participant(app)
    resumed = again.start(**PID, SESSION_ID="own")
    assert resumed.status_code == 200 and resumed.get_json()["resumed"] is True
    assert again.trial()["trial_id"] == trial["trial_id"]


def test_mturk_resume_is_bound_to_the_assignment(app):
    worker = {"workerId": "W9", "hitId": "H1"}
    assert Participant(app).start(**worker, assignmentId="A1").status_code == 201
    assert Participant(app).start(**worker, assignmentId="A2").status_code == 403
    assert Participant(app).start(**worker, assignmentId="A1").status_code == 200


def test_a_researcher_allows_one_reentry(app, db_url):
    holder = Participant(app)
    assert holder.start(**PID, SESSION_ID="own").status_code == 201
    position = holder.trial()["trial_id"]
    admin = app.test_client()
    assert login(admin).status_code == 302
    token = admin.get("/api/csrf").get_json()["csrf_token"]
    page = admin.post("/admin/studies/sample/reentry", data={"platform_id": "pid-77",
                                                             "csrf_token": token},
                      follow_redirects=True)
    assert b"may now continue once" in page.data
    missing = admin.post("/admin/studies/sample/reentry", data={"platform_id": "nobody",
                                                                "csrf_token": token},
                         follow_redirects=True)
    assert b"No participant of this study has that platform id" in missing.data
    new_device = Participant(app)
    resumed = new_device.start(**PID, SESSION_ID="new-laptop")
    assert resumed.status_code == 200
    assert new_device.trial()["trial_id"] == position
    # the permission was used up; the new session is now the bound one
    assert Participant(app).start(**PID, SESSION_ID="third").status_code == 403
    assert Participant(app).start(**PID, SESSION_ID="new-laptop").status_code == 200
    actions = [a for a, _ in audit(db_url)]
    assert actions.count("reentry_allowed") == 2 and "participant_reentry" in actions


def test_the_consent_page_explains_the_refusal(app):
    holder = Participant(app)
    assert holder.start(**PID, SESSION_ID="own").status_code == 201
    stranger = app.test_client()
    page = stranger.get("/study/sample/?PROLIFIC_PID=pid-77&STUDY_ID=s&SESSION_ID=other")
    token = re.search(r'name="csrf_token" value="([^"]+)"', page.get_data(as_text=True)).group(1)
    refused = stranger.post("/study/sample/start", data={
        "consent": "yes", "csrf_token": token, "PROLIFIC_PID": "pid-77", "STUDY_ID": "s",
        "SESSION_ID": "other"})
    assert refused.status_code == 403 and refused.mimetype == "text/html"
    text = refused.get_data(as_text=True)
    assert "another session" in text and "go back to the browser" in text
