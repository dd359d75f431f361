"""A participant's trials: the current one, storing an answer, the pictures of one's own trials.

Contract (the participant service's, see :mod:`xai_eval.studies.participant_service`):
:func:`submit_answer` commits before it returns, so a returned outcome means the answer is
stored; nothing returned contains an answer key, a model/explainer name or a stimulus
database id: trials are addressed by a random ``trial_id`` and pictures by
``(trial_id, position)`` through :func:`trial_stimulus`.
"""

from __future__ import annotations

import json
import secrets
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from sqlalchemy import case, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, joinedload

from xai_eval.db.studies import Item, Participant, Response, Stimulus, Study, TrialInstance
from xai_eval.studies.catalog import task_for
from xai_eval.studies.errors import (
    AnswerError,
    ForeignTrialError,
    InvalidAnswerError,
    ParticipantFinishedError,
    TrialOrderError,
    UnknownTrialError,
)
from xai_eval.studies.tasks import MAX_ANSWER_CHARS, Presentation, Scored, StudyTask
from xai_eval.studies.tokens import MAX_ID_CHARS, participant_for_token, study_of
from xai_eval.studies.transactions import begin_write, with_retry
from xai_eval.studies.views import (
    Finished,
    OptionView,
    StimulusFile,
    StimulusView,
    SubmitOutcome,
    TrialView,
)

#: Longest accepted response time: one hour (a larger value is a client bug, not a datum).
MAX_RT_MS = 3_600_000


def _unanswered(participant_id: int) -> Any:
    """SQL condition: the trial (of ``participant_id``) has no stored response (uses the
    unique ``(participant_id, trial_id)`` index of the response table)."""
    return ~select(Response.id).where(Response.participant_id == participant_id,
                                      Response.trial_id == TrialInstance.id).exists()


def _current_trial(session: Session, participant_id: int, *,
                   with_item: bool = True) -> TrialInstance | None:
    """The first unanswered trial by order (index ``(participant_id, order_index)``)."""
    query = (select(TrialInstance)
             .where(TrialInstance.participant_id == participant_id, _unanswered(participant_id))
             .order_by(TrialInstance.order_index).limit(1))
    if with_item:
        query = query.options(joinedload(TrialInstance.item))
    return session.scalar(query)


def _is_last_unanswered(session: Session, trial: TrialInstance) -> bool:
    """True when no trial after ``trial`` (the current one) is still unanswered."""
    later = session.scalar(
        select(TrialInstance.id)
        .where(TrialInstance.participant_id == trial.participant_id,
               TrialInstance.order_index > trial.order_index,
               _unanswered(trial.participant_id))
        .limit(1))
    return later is None


def _counts(session: Session, participant_id: int) -> tuple[int, int, int]:
    """(trials, practice trials, answered trials) of the participant, in one query."""
    answered = (select(func.count(Response.id))
                .where(Response.participant_id == participant_id).scalar_subquery())
    total, practice, done = session.execute(
        select(func.count(TrialInstance.id),
               func.coalesce(func.sum(case((TrialInstance.kind == "practice", 1), else_=0)), 0),
               answered)
        .where(TrialInstance.participant_id == participant_id)).one()
    return int(total), int(practice), int(done)


def _response_to(session: Session, trial: TrialInstance) -> Response | None:
    return session.scalar(select(Response).where(
        Response.participant_id == trial.participant_id, Response.trial_id == trial.id))


def _presentation(task: StudyTask, trial: TrialInstance) -> Presentation:
    return task.present(trial.item.payload, trial.placement)


def _finished(study: Study, participant: Participant, total: int) -> Finished:
    redirect = study.parameters.get("completion_redirect")
    code = participant.completion_code or ""
    if redirect and participant.platform == "prolific":
        redirect = redirect.format(code=code)
    else:
        redirect = None
    return Finished(code, redirect, total)


def next_trial(session: Session, token: str) -> TrialView | Finished:
    """The participant's first unanswered trial (stable across refreshes), or
    :class:`Finished` with the completion code. Never includes the answer key."""
    participant = participant_for_token(session, token)
    study = study_of(session, participant)
    trial = _current_trial(session, participant.id)
    total, practice_total, _ = _counts(session, participant.id)
    if trial is None:
        return _finished(study, participant, total)
    task = task_for(study)
    shown = _presentation(task, trial)
    return TrialView(
        trial_id=trial.public_id, index=trial.order_index, total=total,
        practice_total=practice_total, phase="practice" if trial.kind == "practice" else "trial",
        task=task.name, response_kind=shown.response_kind, question=shown.question,
        options=[OptionView(o.value, o.label) for o in shown.options],
        stimuli=[StimulusView(s.position, s.caption) for s in shown.stimuli],
        extra=dict(shown.extra))


def _owned_trial(session: Session, participant: Participant, trial_id: Any) -> TrialInstance:
    """The participant's trial with public id ``trial_id`` (item loaded), one indexed lookup;
    another participant's trial is :class:`ForeignTrialError`, an unknown id
    :class:`UnknownTrialError`."""
    if not isinstance(trial_id, str) or not trial_id or len(trial_id) > MAX_ID_CHARS:
        raise UnknownTrialError("malformed trial id")
    trial = session.scalar(select(TrialInstance).where(TrialInstance.public_id == trial_id)
                           .options(joinedload(TrialInstance.item)))
    if trial is None:
        raise UnknownTrialError(f"no trial {trial_id!r} for this participant")
    if trial.participant_id != participant.id:
        raise ForeignTrialError(f"no trial {trial_id!r} for this participant")
    return trial


def _check_answer_size(answer: Any, rt_ms: Any) -> int:
    try:
        size = len(json.dumps(answer))
    except (TypeError, ValueError):
        raise InvalidAnswerError("answer is not a JSON value") from None
    if size > MAX_ANSWER_CHARS:
        raise InvalidAnswerError(f"answer is {size} characters long; at most "
                                 f"{MAX_ANSWER_CHARS} are accepted")
    if isinstance(rt_ms, bool) or not isinstance(rt_ms, int | float) or not (
            0 <= rt_ms <= MAX_RT_MS):
        raise InvalidAnswerError(f"rt_ms must be a number of milliseconds in [0, {MAX_RT_MS}]")
    return int(rt_ms)


def _outcome(task: StudyTask, participant: Participant, trial: TrialInstance,
             response: Response, stored: bool, answered: int, total: int) -> SubmitOutcome:
    feedback = None
    if trial.kind == "practice":
        feedback = task.feedback(trial.item.payload, trial.item.answer_key, trial.placement,
                                 Scored(response.correct, response.score))
    finished = participant.status != "started"
    return SubmitOutcome(stored=stored, trial_id=trial.public_id, feedback=feedback,
                         correct=response.correct if trial.kind == "practice" else None,
                         answered=answered, total=total, finished=finished,
                         completion_code=participant.completion_code if finished else None)


def _repeat_outcome(session: Session, task: StudyTask, participant: Participant,
                    trial: TrialInstance, response: Response) -> SubmitOutcome:
    total, _, answered = _counts(session, participant.id)
    return _outcome(task, participant, trial, response, False, answered, total)


@with_retry
def submit_answer(session: Session, token: str, trial_id: str, answer: Any,
                  rt_ms: int | float) -> SubmitOutcome:
    """Store the answer to ``trial_id`` (one row, committed before returning).

    Idempotent by trial: a repeat returns ``stored=False`` and keeps the first answer.
    Raises :class:`InvalidTokenError`, :class:`UnknownTrialError` (unknown id),
    :class:`ForeignTrialError` (another participant's trial), :class:`InvalidAnswerError`
    (malformed, oversized, not an option, bad rt_ms), :class:`TrialOrderError` (not the
    current trial) or :class:`ParticipantFinishedError`.

    Reads only what it needs (participant by token hash, the trial by public id, the
    current trial's id, counts; the stored response only when the trial is not current),
    all through unique indexes.
    """
    rt = _check_answer_size(answer, rt_ms)
    begin_write(session)
    participant = participant_for_token(session, token)
    trial = _owned_trial(session, participant, trial_id)
    study = study_of(session, participant)
    task = task_for(study)
    current = _current_trial(session, participant.id, with_item=False)
    is_current = current is not None and current.id == trial.id
    if not is_current:  # answered already (a repeat, or a racing double submit)?
        existing = _response_to(session, trial)
        if existing is not None:
            repeat = _repeat_outcome(session, task, participant, trial, existing)
            session.commit()  # nothing written: end the transaction (and its write lock)
            return repeat
    if participant.status != "started":
        raise ParticipantFinishedError("this study session is over; no more answers are taken")
    if not is_current:
        raise TrialOrderError("this is not your current trial; reload the page to continue")
    try:
        value = task.validate_answer(_presentation(task, trial), answer)
    except AnswerError as exc:
        raise InvalidAnswerError(str(exc)) from None
    item: Item = trial.item
    scored = (task.score_attention(item.answer_key, value) if trial.kind == "attention"
              else task.score(item.answer_key, trial.placement, value))
    total, _, answered = _counts(session, participant.id)
    last = _is_last_unanswered(session, trial)
    response = Response(
        participant_id=participant.id, trial_id=trial.id, answer=value,
        side_mapping=side_mapping(item, trial), correct=scored.correct, score=scored.score,
        rt_ms=rt, is_practice=trial.kind == "practice",
        is_attention_check=trial.kind == "attention")
    session.add(response)
    if last:
        participant.status = "completed"
        participant.finished_at = datetime.now(timezone.utc)
        participant.completion_code = (study.parameters.get("completion_code")
                                       or secrets.token_hex(4).upper())
    outcome = _outcome(task, participant, trial, response, True, answered + 1, total)
    try:
        session.commit()
    except IntegrityError:
        # a concurrent duplicate submit won the race: report the stored answer
        session.rollback()
        session.expire_all()
        participant = participant_for_token(session, token)
        trial = _owned_trial(session, participant, trial_id)
        stored = _response_to(session, trial)
        if stored is None:
            raise
        return _repeat_outcome(session, task, participant, trial, stored)
    return outcome


def side_mapping(item: Item, trial: TrialInstance) -> dict[str, Any]:
    """The placement as shown, with each screen position resolved to its model/explainer."""
    provenance = item.payload.get("provenance", {})
    positions = trial.placement.get("positions", {})
    return {
        "positions": dict(positions),
        "models": {pos: provenance.get(role, {}).get("model") for pos, role in positions.items()},
        "options": trial.placement.get("options"),
    }


def trial_stimulus(session: Session, token: str, trial_id: str, position: str,
                   instance_dir: str | Path | None = None) -> StimulusFile:
    """The picture at ``position`` of the participant's own trial (PNG bytes).

    Raises :class:`UnknownTrialError` / :class:`ForeignTrialError` as :func:`submit_answer`.
    """
    participant = participant_for_token(session, token)
    trial = _owned_trial(session, participant, trial_id)
    role = trial.placement.get("positions", {}).get(position)
    if role is None:
        raise UnknownTrialError(f"trial has no picture at position {position!r}")
    stimulus = session.get(Stimulus, trial.item.payload["stimuli"][role])
    assert stimulus is not None
    if stimulus.data is not None:
        return StimulusFile(stimulus.data, stimulus.mime)
    path = Path(instance_dir or ".") / (stimulus.file_path or "")
    return StimulusFile(path.read_bytes(), stimulus.mime)
