"""The participant-session service: the only way pages and the JSON API touch study data.

The web layer (``xai_eval.web``) is a thin shell around these functions::

    with session_scope(factory) as s:
        study = get_study(s, "class_discrimination")
        started = start_or_resume(s, study, PlatformIds.from_query(request.args))
    # -> started.token goes into the participant's cookie / API header
    step = next_trial(s, token)          # TrialView (no answer key) or Finished
    outcome = submit_answer(s, token, step.trial_id, "dog", rt_ms=1834)

Contract:

- Mutating functions (:func:`start_or_resume`, :func:`submit_answer` and the admin ones in
  :mod:`xai_eval.studies.monitoring`) **commit their own transaction** before returning, so
  a returned value means the write is durable (acknowledge only then). On any error they
  roll back: nothing is half-written. SQLite "database is locked" and PostgreSQL
  serialization/deadlock errors are retried with backoff, then :class:`DatabaseBusyError`.
- Errors are :class:`xai_eval.studies.errors.StudyError` subclasses with an HTTP ``status``;
  their messages are safe to show.
- Nothing returned to a participant contains an answer key, a model/explainer name or a
  stimulus database id: trials are addressed by a random ``trial_id`` and pictures by
  ``(trial_id, position)`` through :func:`trial_stimulus`.
"""

from __future__ import annotations

import hashlib
import json
import secrets
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from sqlalchemy import case, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, joinedload

from xai_eval.db.studies import Item, Participant, Response, Stimulus, Study, TrialInstance
from xai_eval.studies.errors import (
    AlreadyCompletedError,
    ForeignTrialError,
    InvalidAnswerError,
    InvalidTokenError,
    ParticipantFinishedError,
    PreviewModeError,
    StudyClosedError,
    StudyNotFoundError,
    TrialOrderError,
    UnknownTrialError,
)
from xai_eval.studies.platform import PlatformIds, hash_platform_id
from xai_eval.studies.retry import with_retry
from xai_eval.studies.tasks import MAX_ANSWER_CHARS, AnswerError, Presentation, StudyTask
from xai_eval.studies.views import (
    Finished,
    OptionView,
    StartResult,
    StimulusFile,
    StimulusView,
    SubmitOutcome,
    TrialView,
)

#: Longest accepted response time: one hour (a larger value is a client bug, not a datum).
MAX_RT_MS = 3_600_000
#: Longest accepted token / trial id string.
MAX_ID_CHARS = 128


# --- lookups ------------------------------------------------------------------------------
def get_study(session: Session, slug: str) -> Study:
    """The study built under ``slug``, or :class:`StudyNotFoundError`."""
    study = session.scalar(select(Study).where(Study.slug == slug))
    if study is None:
        raise StudyNotFoundError(f"no study named {slug!r}; build it with `xai-eval study build`")
    return study


def list_studies(session: Session) -> list[Study]:
    """Every built study, oldest first."""
    return list(session.scalars(select(Study).order_by(Study.id)))


_TASKS: dict[str, StudyTask] = {}


def task_for(study: Study) -> StudyTask:
    """The task plugin object of ``study`` (from its stored definition; cached by the
    definition's hash, so a request does not re-validate the YAML)."""
    from xai_eval.studies.definition import StudyDefinition, task_class

    task = _TASKS.get(study.definition_hash)
    if task is None:
        definition = StudyDefinition.model_validate(study.definition)
        task = task_class(definition.task)(definition)
        if len(_TASKS) > 256:
            _TASKS.clear()
        _TASKS[study.definition_hash] = task
    return task


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def participant_for_token(session: Session, token: str | None) -> Participant:
    """The participant holding ``token``, or :class:`InvalidTokenError`.

    One indexed lookup by token hash; the trials are *not* loaded (``participant.trials``
    still works, lazily). Each request asks only for the rows it needs (the current trial,
    the trial being answered, a count), which keeps a request's cost flat in the number of
    trials and answers: loading the whole sequence was most of a request's CPU time.
    """
    if not token or not isinstance(token, str) or len(token) > MAX_ID_CHARS:
        raise InvalidTokenError("missing or malformed participant token; start the study again "
                                "from its link")
    # the study comes in the same round trip: it lands in the session's identity map, so
    # the ``session.get(Study, ...)`` that every request does next costs no query
    row = session.execute(
        select(Participant, Study).join(Study, Study.id == Participant.study_id)
        .where(Participant.token_hash == hash_token(token))).first()
    if row is None:
        raise InvalidTokenError("unknown participant token; start the study again from its link")
    return row[0]


def _study_of(session: Session, participant: Participant) -> Study:
    study = session.get(Study, participant.study_id)
    assert study is not None  # a foreign key with ON DELETE CASCADE
    return study


def _begin_write(session: Session) -> None:
    """On SQLite, open the transaction with ``BEGIN IMMEDIATE`` (take the write lock first).

    A transaction that reads and then writes starts as a reader; if another connection
    commits in between, SQLite cannot upgrade it and fails with "database is locked" at once,
    without waiting for the busy timeout. Taking the write lock before the first read makes
    writers queue on the busy timeout instead, across threads and processes alike. Nothing
    is done on other databases, or when the session already has a transaction open (a
    caller's pending writes are kept in it).
    """
    if session.get_bind().dialect.name != "sqlite":
        return
    connection = session.connection()
    if not connection.connection.dbapi_connection.in_transaction:
        connection.exec_driver_sql("BEGIN IMMEDIATE")


# --- starting -----------------------------------------------------------------------------
@with_retry
def start_or_resume(session: Session, study: Study, platform_ids: PlatformIds | None = None, *,
                    token: str | None = None, id_key: bytes | None = None) -> StartResult:
    """Start a participant on ``study``, or resume the one these credentials belong to.

    - ``token`` of a participant of this study: resume with the same token.
    - a platform id (Prolific PID / MTurk workerId) seen before on this study: resume that
      participant with a fresh token; :class:`AlreadyCompletedError` if it completed or was
      excluded — a person takes a study once.
    - otherwise a new participant with a balanced, randomised trial sequence
      (:mod:`xai_eval.studies.assignment`); :class:`StudyClosedError` unless the study is open.

    MTurk preview raises :class:`PreviewModeError`. Commits before returning.
    """
    platform_ids = platform_ids or PlatformIds()
    if token:
        try:
            participant = participant_for_token(session, token)
        except InvalidTokenError:
            participant = None
        if participant is not None and participant.study_id == study.id:
            return StartResult(participant.id, token, True, participant.status)
    if platform_ids.preview:
        raise PreviewModeError("this is an MTurk preview: accept the HIT to start the study")
    _begin_write(session)
    id_hash = None
    if platform_ids.main_id:
        id_hash = hash_platform_id(platform_ids.main_id, study.id_salt, id_key)
        existing = session.scalar(select(Participant).where(
            Participant.study_id == study.id, Participant.platform_id_hash == id_hash))
        if existing is not None:
            if existing.status != "started":
                raise AlreadyCompletedError(
                    "you have already taken part in this study; it can be taken only once")
            new_token = secrets.token_urlsafe(32)
            existing.token_hash = hash_token(new_token)
            session.commit()
            return StartResult(existing.id, new_token, True, existing.status)
    if study.status != "open":
        raise StudyClosedError(f"study {study.slug!r} is {study.status} and accepts no new "
                               "participants")
    from xai_eval.studies.enrolment import enrol

    new_token = secrets.token_urlsafe(32)
    stored_ids = platform_ids.stored(study.id_salt, id_key,
                                     plain=study.parameters.get("store_platform_ids") == "plain")
    try:
        participant = enrol(session, study, task_for(study), hash_token(new_token),
                            platform_ids.platform, id_hash, stored_ids)
        session.commit()
    except IntegrityError:
        # the same platform id started concurrently: resume that participant instead
        session.rollback()
        if id_hash is None:
            raise
        return start_or_resume.__wrapped__(session, study, platform_ids, id_key=id_key)
    return StartResult(participant.id, new_token, False, participant.status)


# --- trials -------------------------------------------------------------------------------
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
    study = _study_of(session, participant)
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
        from xai_eval.studies.tasks import Scored

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
    _begin_write(session)
    participant = participant_for_token(session, token)
    trial = _owned_trial(session, participant, trial_id)
    study = _study_of(session, participant)
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


from xai_eval.studies.monitoring import (  # noqa: E402  (re-exported: one import for the web)
    ExclusionRules,
    ParticipantExclusion,
    StudyProgress,
    authenticate_admin,
    create_admin,
    exclusions,
    export_responses,
    progress,
    record_audit,
    set_study_status,
)

__all__ = [
    "ExclusionRules", "Finished", "OptionView", "ParticipantExclusion", "PlatformIds",
    "StartResult", "StimulusFile", "StimulusView", "StudyProgress", "SubmitOutcome", "TrialView",
    "authenticate_admin", "create_admin", "exclusions", "export_responses", "get_study",
    "list_studies", "next_trial", "participant_for_token", "progress", "record_audit",
    "set_study_status", "start_or_resume", "submit_answer", "task_for", "trial_stimulus",
]
