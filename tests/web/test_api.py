"""The JSON API on both databases: the participant loop and every way to misuse it."""

from __future__ import annotations

from sqlalchemy import func, select

from xai_eval.db.base import make_engine, session_factory
from xai_eval.db.studies import Response


def _responses(db_url: str) -> int:
    engine = make_engine(db_url)
    try:
        with session_factory(engine)() as session:
            return session.scalar(select(func.count()).select_from(Response))
    finally:
        engine.dispose()


def test_create_then_resume_keeps_the_same_trial(participant):
    created = participant.start()
    assert created.status_code == 201, created.get_data(as_text=True)
    first = participant.trial()
    assert first["done"] is False and first["phase"] == "practice"
    again = participant.start()
    assert again.status_code == 200 and again.get_json()["resumed"] is True
    assert participant.trial()["trial_id"] == first["trial_id"]


def test_trial_carries_no_answer_key_or_provenance(participant):
    participant.start()
    trial = participant.trial()
    text = str(trial)
    for secret in ("answer_key", "correct", "vgg16", "guided", "provenance", "explainer"):
        assert secret not in text, secret
    assert trial["stimuli"][0]["url"].startswith("/api/sessions/current/trials/")
    image = participant.client.get(trial["stimuli"][0]["url"])
    assert image.status_code == 200 and image.data[:8] == b"\x89PNG\r\n\x1a\n"


def test_whole_study_with_practice_feedback_and_completion_code(participant, db_url):
    participant.start()
    answered = 0
    while True:
        trial = participant.trial()
        if trial["done"]:
            break
        result = participant.answer(trial["trial_id"], trial["options"][0]["value"])
        assert result.status_code == 201, result.get_data(as_text=True)
        body = result.get_json()
        if trial["phase"] == "practice":
            assert body["feedback"]["text"] and body["feedback"]["correct"] in (True, False)
        else:
            assert body["feedback"] is None and body["correct"] is None
        answered += 1
    assert trial["completion_code"]
    assert answered == trial["total"] == 1 + 4 + 1
    assert _responses(db_url) == answered


def test_double_submit_stores_one_answer(participant, db_url):
    participant.start()
    trial = participant.trial()
    value = trial["options"][1]["value"]
    first = participant.answer(trial["trial_id"], value)
    second = participant.answer(trial["trial_id"], trial["options"][0]["value"])
    assert first.status_code == 201 and first.get_json()["stored"] is True
    assert second.status_code == 200 and second.get_json()["stored"] is False
    assert _responses(db_url) == 1


def test_another_participants_trial_is_not_found(participant, other, db_url):
    participant.start()
    other.start()
    mine = participant.trial()
    stolen = other.answer(mine["trial_id"], mine["options"][0]["value"])
    assert stolen.status_code == 404
    assert stolen.get_json()["error"] == "foreign_trial"
    picture = other.client.get(mine["stimuli"][0]["url"])
    assert picture.status_code == 404
    assert _responses(db_url) == 0


def test_unknown_and_malformed_trial_ids(participant):
    participant.start()
    assert participant.answer("no-such-trial", "cat").status_code == 404
    assert participant.answer("x" * 500, "cat").status_code == 404
    assert participant.answer(12, "cat").status_code == 404


def test_malformed_answers_are_rejected_with_a_reason(participant, db_url):
    participant.start()
    trial = participant.trial()
    bad = [
        {"trial_id": trial["trial_id"], "answer": "not-an-option", "rt_ms": 10},
        {"trial_id": trial["trial_id"], "answer": ["a"], "rt_ms": 10},
        {"trial_id": trial["trial_id"], "answer": trial["options"][0]["value"], "rt_ms": -5},
        {"trial_id": trial["trial_id"], "answer": trial["options"][0]["value"]},
        {"trial_id": trial["trial_id"], "answer": "cat", "rt_ms": 1, "extra": 1},
    ]
    for body in bad:
        response = participant.post("/api/sessions/current/answers", json=body)
        assert response.status_code in (400, 422), body
        assert response.get_json()["message"], body
    not_json = participant.post("/api/sessions/current/answers", data="answer=cat",
                                content_type="application/x-www-form-urlencoded")
    assert not_json.status_code in (400, 422)
    assert _responses(db_url) == 0


def test_oversized_body_is_413(participant):
    participant.start()
    trial = participant.trial()
    huge = participant.post("/api/sessions/current/answers",
                            json={"trial_id": trial["trial_id"], "answer": "x" * 100_000,
                                  "rt_ms": 5})
    assert huge.status_code == 413
    assert huge.get_json()["error"] == "too_large"


def test_missing_csrf_token_is_400(app):
    client = app.test_client()
    response = client.post("/api/studies/sample/sessions", json={})
    assert response.status_code == 400
    assert response.get_json()["error"] == "csrf_failed"


def test_no_session_and_unknown_study(app, participant):
    assert app.test_client().get("/api/sessions/current/trial").status_code == 401
    assert participant.start("no-such-study").status_code == 404


def test_study_once_per_platform_id(app, participant):
    from tests.web.conftest import Participant

    assert participant.start(PROLIFIC_PID="pid-1", STUDY_ID="s", SESSION_ID="a").status_code == 201
    while not (trial := participant.trial())["done"]:
        participant.answer(trial["trial_id"], trial["options"][0]["value"])
    second_browser = Participant(app)
    again = second_browser.start(PROLIFIC_PID="pid-1", STUDY_ID="s", SESSION_ID="b")
    assert again.status_code == 409 and again.get_json()["error"] == "already_completed"


def test_mturk_preview_starts_nothing(participant):
    preview = participant.start(assignmentId="ASSIGNMENT_ID_NOT_AVAILABLE", hitId="H1")
    assert preview.status_code == 403
    forged = participant.start(workerId="W1", assignmentId="A1", hitId="H1",
                               turkSubmitTo="https://evil.example")
    assert forged.status_code == 400 and "turkSubmitTo" in forged.get_json()["message"]
