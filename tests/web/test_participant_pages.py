"""The participant's pages with Prolific and MTurk parameters (server side of the flow)."""

from __future__ import annotations

import re

import pytest

from xai_eval.db.base import make_engine, session_factory
from xai_eval.testing import create_sample_study

PROLIFIC_RETURN = "https://app.prolific.com/submissions/complete?cc={code}"


@pytest.fixture
def prolific_study(app, db_url):
    engine = make_engine(db_url)
    with session_factory(engine)() as session:
        create_sample_study(session, slug="prolific", images=4, trials=2, practice=1,
                            attention=0, completion_redirect=PROLIFIC_RETURN,
                            parameters={"completion_code": "C1A2B3C4"})
    engine.dispose()
    return "prolific"


def _form_token(html: str) -> str:
    return re.search(r'name="csrf_token" value="([^"]+)"', html).group(1)


def _finish_via_api(client, csrf: str) -> None:
    while not (trial := client.get("/api/sessions/current/trial").get_json())["done"]:
        question = trial["question"]
        value = (question.split("“")[1].split("”")[0] if "attention check" in question
                 else trial["options"][0]["value"])
        response = client.post("/api/sessions/current/answers", headers={"X-CSRFToken": csrf},
                               json={"trial_id": trial["trial_id"], "answer": value,
                                     "rt_ms": 1200})
        assert response.status_code == 201


def test_consent_form_starts_and_run_page_resumes(app):
    client = app.test_client()
    page = client.get("/study/sample/")
    assert page.status_code == 200 and b'id="consent-submit"' in page.data
    token = _form_token(page.get_data(as_text=True))
    refused = client.post("/study/sample/start", data={"csrf_token": token})
    assert refused.status_code == 400  # consent not ticked
    no_csrf = client.post("/study/sample/start", data={"consent": "yes"})
    assert no_csrf.status_code == 400
    started = client.post("/study/sample/start", data={"consent": "yes", "csrf_token": token})
    assert started.status_code == 302 and started.headers["Location"].endswith("/study/sample/run")
    run = client.get("/study/sample/run")
    assert run.status_code == 200 and b"study.js" in run.data
    # the landing page now sends this browser straight back to its trials
    assert client.get("/study/sample/").headers["Location"].endswith("/study/sample/run")
    # the debrief is not reachable before the end
    assert client.get("/study/sample/done").headers["Location"].endswith("/study/sample/run")


def test_run_page_without_a_session_goes_to_consent(app):
    response = app.test_client().get("/study/sample/run")
    assert response.status_code == 302 and response.headers["Location"].endswith("/study/sample/")


def test_mturk_preview_shows_the_task_without_a_start_button(app):
    page = app.test_client().get(
        "/study/sample/?assignmentId=ASSIGNMENT_ID_NOT_AVAILABLE&hitId=H1"
        "&turkSubmitTo=https://workersandbox.mturk.com")
    assert page.status_code == 200
    assert b"preview-notice" in page.data and b"consent-submit" not in page.data


def test_mturk_worker_submits_the_assignment_to_mturk(app):
    client = app.test_client()
    query = ("workerId=W123&assignmentId=A456&hitId=H1"
             "&turkSubmitTo=https%3A%2F%2Fworkersandbox.mturk.com")
    page = client.get(f"/study/sample/?{query}").get_data(as_text=True)
    assert 'name="workerId" value="W123"' in page
    token = _form_token(page)
    form = {"consent": "yes", "csrf_token": token, "workerId": "W123", "assignmentId": "A456",
            "hitId": "H1", "turkSubmitTo": "https://workersandbox.mturk.com"}
    assert client.post("/study/sample/start", data=form).status_code == 302
    _finish_via_api(client, token)
    debrief = client.get("/study/sample/done").get_data(as_text=True)
    assert 'action="https://workersandbox.mturk.com/mturk/externalSubmit"' in debrief
    assert 'name="assignmentId" value="A456"' in debrief
    code = re.search(r'id="completion-code">([^<]+)<', debrief).group(1)
    assert f'name="completion_code" value="{code}"' in debrief


def test_prolific_participant_is_sent_back_with_the_code(app, prolific_study):
    client = app.test_client()
    page = client.get(f"/study/{prolific_study}/?PROLIFIC_PID=P1&STUDY_ID=S1&SESSION_ID=X1")
    token = _form_token(page.get_data(as_text=True))
    form = {"consent": "yes", "csrf_token": token, "PROLIFIC_PID": "P1", "STUDY_ID": "S1",
            "SESSION_ID": "X1"}
    assert client.post(f"/study/{prolific_study}/start", data=form).status_code == 302
    _finish_via_api(client, token)
    debrief = client.get(f"/study/{prolific_study}/done").get_data(as_text=True)
    code = re.search(r'id="completion-code">([^<]+)<', debrief).group(1)
    assert f'href="https://app.prolific.com/submissions/complete?cc={code}"' in debrief
    # the same Prolific id in a fresh browser cannot take the study again
    again = app.test_client()
    page = again.get(f"/study/{prolific_study}/?PROLIFIC_PID=P1&STUDY_ID=S1&SESSION_ID=X2")
    form["csrf_token"] = _form_token(page.get_data(as_text=True))
    form["SESSION_ID"] = "X2"
    refused = again.post(f"/study/{prolific_study}/start", data=form)
    assert refused.status_code == 409 and b"only once" in refused.data


def test_unknown_study_page_is_404(app):
    assert app.test_client().get("/study/nope/").status_code == 404
