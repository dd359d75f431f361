"""The participant service on SQLite and PostgreSQL: resume, idempotence, isolation, limits."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import func, select

from xai_eval.db.studies import Participant, Response, TrialInstance
from xai_eval.studies import admin_service
from xai_eval.studies import participant_service as service
from xai_eval.studies.errors import (
    AlreadyCompletedError,
    ForeignTrialError,
    InvalidAnswerError,
    InvalidTokenError,
    PreviewModeError,
    StudyClosedError,
    TrialOrderError,
    UnknownTrialError,
)
from xai_eval.studies.platform import parse_visit

PROLIFIC = {"PROLIFIC_PID": "5f1a2b3c4d", "STUDY_ID": "s1", "SESSION_ID": "x9"}
#: The server's platform-id key in these tests (the app passes platform_id_key(config)).
ID_KEY = b"test-id-key"


def _start(factory, slug, query=None, token=None):
    with factory() as s:
        study = service.get_study(s, slug)
        return service.start_or_resume(s, study, parse_visit(query or {}), token=token,
                                       id_key=ID_KEY)


def _next(factory, token):
    with factory() as s:
        return service.next_trial(s, token)


def _submit(factory, token, trial_id, answer, rt=900):
    with factory() as s:
        return service.submit_answer(s, token, trial_id, answer, rt)


def _answer_all(factory, token, pick=lambda view: view.options[0].value):
    while True:
        view = _next(factory, token)
        if isinstance(view, service.Finished):
            return view
        _submit(factory, token, view.trial_id, pick(view))


def _count(factory, model, *where):
    with factory() as s:
        return s.scalar(select(func.count()).select_from(model).where(*where))


def test_resume_returns_same_participant_and_position(study_db):
    factory, slug = study_db
    first = _start(factory, slug, PROLIFIC)
    view = _next(factory, first.token)
    _submit(factory, first.token, view.trial_id, view.options[0].value)
    position = _next(factory, first.token)
    # a refresh (same token) and a new device (same Prolific id) land on the same trial
    again = _start(factory, slug, PROLIFIC, token=first.token)
    assert (again.participant_id, again.token, again.resumed) == (first.participant_id,
                                                                  first.token, True)
    other_device = _start(factory, slug, PROLIFIC)
    assert other_device.participant_id == first.participant_id and other_device.resumed
    assert _next(factory, other_device.token).trial_id == position.trial_id
    assert _count(factory, Participant) == 1


def test_double_submit_stores_one_row(study_db):
    factory, slug = study_db
    started = _start(factory, slug)
    view = _next(factory, started.token)
    first = _submit(factory, started.token, view.trial_id, view.options[0].value)
    second = _submit(factory, started.token, view.trial_id, view.options[1].value)
    assert first.stored and not second.stored
    assert _count(factory, Response) == 1
    with factory() as s:
        assert s.scalar(select(Response.answer)) == view.options[0].value


def test_another_participants_trial_is_rejected(study_db):
    factory, slug = study_db
    alice, bob = _start(factory, slug), _start(factory, slug)
    bobs_trial = _next(factory, bob.token)
    with pytest.raises(ForeignTrialError):
        _submit(factory, alice.token, bobs_trial.trial_id, bobs_trial.options[0].value)
    with factory() as s, pytest.raises(ForeignTrialError):
        service.trial_stimulus(s, alice.token, bobs_trial.trial_id, "center")
    assert _count(factory, Response) == 0


@pytest.mark.parametrize("trial_id", ["does-not-exist", "", "x" * 500, None, 42])
def test_unknown_or_malformed_trial(study_db, trial_id):
    factory, slug = study_db
    started = _start(factory, slug)
    with pytest.raises(UnknownTrialError):
        _submit(factory, started.token, trial_id, "red")


@pytest.mark.parametrize("answer", ["x" * 10_000, {"a": 1}, [1, 2], None, True, 3.5,
                                    "not-an-option"])
def test_malformed_or_oversized_answer(study_db, answer):
    factory, slug = study_db
    started = _start(factory, slug)
    view = _next(factory, started.token)
    with pytest.raises(InvalidAnswerError):
        _submit(factory, started.token, view.trial_id, answer)
    assert _count(factory, Response) == 0


@pytest.mark.parametrize("rt", [-1, 10**9, "fast", None, True])
def test_bad_response_time(study_db, rt):
    factory, slug = study_db
    started = _start(factory, slug)
    view = _next(factory, started.token)
    with pytest.raises(InvalidAnswerError, match="rt_ms"):
        _submit(factory, started.token, view.trial_id, view.options[0].value, rt)


def test_bad_tokens(study_db):
    factory, _ = study_db
    for token in ["", "nope", "x" * 1000, None]:
        with pytest.raises(InvalidTokenError):
            _next(factory, token)


def test_future_trial_is_refused(study_db):
    factory, slug = study_db
    started = _start(factory, slug)
    with factory() as s:
        later = s.scalars(select(TrialInstance.public_id)
                          .where(TrialInstance.order_index == 2)).one()
    with pytest.raises(TrialOrderError):
        _submit(factory, started.token, later, "red")


def test_a_study_is_taken_once(study_db):
    factory, slug = study_db
    started = _start(factory, slug, PROLIFIC)
    done = _answer_all(factory, started.token)
    assert done.completion_code
    with pytest.raises(AlreadyCompletedError):
        _start(factory, slug, PROLIFIC)
    # the original token still shows the debrief, never a new sequence
    again = _start(factory, slug, PROLIFIC, token=started.token)
    assert again.participant_id == started.participant_id
    assert isinstance(_next(factory, started.token), service.Finished)


def test_mturk_preview_and_closed_study(study_db):
    factory, slug = study_db
    with pytest.raises(PreviewModeError):
        _start(factory, slug, {"assignmentId": "ASSIGNMENT_ID_NOT_AVAILABLE", "hitId": "h"})
    with factory() as s:
        admin_service.set_study_status(s, service.get_study(s, slug), "closed", "tester")
    with pytest.raises(StudyClosedError):
        _start(factory, slug)


def test_answer_keys_never_in_next_trial(study_db):
    factory, slug = study_db
    started = _start(factory, slug)
    with factory() as s:
        participant = service.participant_for_token(s, started.token)
        secrets_ = {json.dumps(t.item.answer_key["correct"]) for t in participant.trials}
        names = {t.item.payload["provenance"]["main"]["explainer"] for t in participant.trials}
    seen = 0
    while True:
        view = _next(factory, started.token)
        text = json.dumps(view.as_dict())
        if isinstance(view, service.Finished):
            break
        seen += 1
        assert "answer_key" not in text and "correct" not in text
        assert not any(name in text for name in names)  # no explainer/model provenance
        assert "provenance" not in text and "stimuli\": {" not in text
        # the key's value appears only as one of the two offered options, never marked
        assert sum(o.value in {json.loads(k) for k in secrets_} for o in view.options) >= 1
        _submit(factory, started.token, view.trial_id, view.options[0].value)
    assert seen == 6  # 1 practice + 4 main + 1 attention


def test_practice_feedback_and_completion(study_db):
    factory, slug = study_db
    started = _start(factory, slug)
    first = _next(factory, started.token)
    assert first.phase == "practice"
    outcome = _submit(factory, started.token, first.trial_id, first.options[0].value)
    assert outcome.feedback and outcome.correct is not None
    second = _next(factory, started.token)
    later = _submit(factory, started.token, second.trial_id, second.options[0].value)
    assert later.feedback is None and later.correct is None  # no feedback on real trials
    done = _answer_all(factory, started.token)
    with factory() as s:
        p = s.get(Participant, started.participant_id)
        assert p.status == "completed" and p.completion_code == done.completion_code
        assert p.finished_at is not None


def test_platform_ids_are_stored_as_keyed_hashes(study_db):
    factory, slug = study_db
    started = _start(factory, slug, PROLIFIC)
    with factory() as s:
        p = s.get(Participant, started.participant_id)
        stored = json.dumps(p.platform_ids) + (p.platform_id_hash or "") + p.token_hash
    assert "5f1a2b3c4d" not in stored and started.token not in stored
    assert set(p.platform_ids) == set(PROLIFIC)


def test_stimulus_bytes_are_served_for_own_trial(study_db):
    factory, slug = study_db
    started = _start(factory, slug)
    view = _next(factory, started.token)
    with factory() as s:
        picture = service.trial_stimulus(s, started.token, view.trial_id, "center")
        assert picture.mime == "image/png" and picture.data.startswith(b"\x89PNG")
        with pytest.raises(UnknownTrialError):
            service.trial_stimulus(s, started.token, view.trial_id, "left")


def test_response_rows_keep_raw_answer_side_mapping_and_flags(study_db):
    factory, slug = study_db
    started = _start(factory, slug)
    _answer_all(factory, started.token)
    with factory() as s:
        rows = s.scalars(select(Response)).all()
        assert len(rows) == 6
        assert sum(r.is_practice for r in rows) == 1
        assert sum(r.is_attention_check for r in rows) == 1
        for r in rows:
            assert r.side_mapping["positions"] == {"center": "main"}
            assert len(r.side_mapping["options"]) == 2 and r.rt_ms == 900
            assert r.score in (0.0, 1.0) and r.correct == (r.score == 1.0)


def test_platform_ids_need_the_servers_key(study_db):
    """No silent fallback key: hashing a platform id without the server's key is refused
    before anything is written (a hash under another key would never match again)."""
    factory, slug = study_db
    with factory() as s, pytest.raises(TypeError, match="id_key"):
        service.start_or_resume(s, service.get_study(s, slug), parse_visit(PROLIFIC))
    assert _count(factory, Participant) == 0
    # the same visit with the key starts; under another key the same person is a stranger
    first = _start(factory, slug, PROLIFIC)
    with factory() as s:
        other = service.start_or_resume(s, service.get_study(s, slug), parse_visit(PROLIFIC),
                                        id_key=b"another-key")
    assert not other.resumed and other.participant_id != first.participant_id
