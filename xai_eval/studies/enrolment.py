"""Starting or resuming a participant: the participant service's one place for enrolment.

Who may start, who resumes, and how a new participant's trials are chosen are decided here
and nowhere else (the pages and the API both call :func:`start_or_resume`):

1. a **token** this browser already holds for this study resumes that participant as is;
2. an MTurk **preview** starts nothing (:class:`PreviewModeError`);
3. a **platform id** (Prolific PID / MTurk workerId) seen before on this study resumes that
   participant with a fresh token only from the **same platform session** (Prolific
   ``SESSION_ID``, MTurk ``assignmentId``, stored as a keyed hash at the start), or once
   after a researcher allowed re-entry (:func:`allow_reentry`). Platform ids are not
   secrets: anyone else presenting the id is refused (:class:`PlatformSessionMismatchError`,
   audited as ``resume_refused``) and the holder's token stays valid. Completed or excluded
   participants are refused (:class:`AlreadyCompletedError`: a person takes a study once).
   Ids are looked up by their keyed hash (:mod:`xai_eval.studies.platform`);
4. otherwise a **new participant** is written with the whole trial sequence, if the study
   is open (:class:`StudyClosedError`), the visit names a platform id when the study has
   ``require_platform_id`` (:class:`PlatformIdRequiredError`), and the client (its address)
   has not started ``enrol_limit`` participants within ``enrol_window_s``
   (:class:`ThrottledError`, 429; counted in the database by
   :mod:`xai_eval.studies.throttle`, so every server process agrees).

Writing every :class:`~xai_eval.db.studies.TrialInstance` up front (rather than choosing the
next trial on the fly) is what makes resume exact: the sequence, the placements and the
position are all in the database, and a participant's page is a pure function of it.
"""

from __future__ import annotations

import hmac
import random
import secrets
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta, timezone

from sqlalchemy import and_, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from xai_eval.db.studies import Item, Participant, Study, TrialInstance
from xai_eval.studies import throttle
from xai_eval.studies.assignment import (
    build_sequence,
    choose_balanced,
    choose_condition,
    counterbalance_flip,
)
from xai_eval.studies.audit import record_audit
from xai_eval.studies.catalog import task_for
from xai_eval.studies.errors import (
    AlreadyCompletedError,
    InvalidTokenError,
    PlatformIdRequiredError,
    PlatformSessionMismatchError,
    PreviewModeError,
    StudyClosedError,
    ThrottledError,
)
from xai_eval.studies.platform import PlatformVisit, hash_platform_id
from xai_eval.studies.tasks import StudyTask
from xai_eval.studies.tokens import hash_token, new_token, participant_for_token
from xai_eval.studies.transactions import begin_write, with_retry
from xai_eval.studies.views import StartResult

#: default minutes after which an unfinished participant's items are given to others
ABANDON_AFTER_MINUTES = 120


@with_retry
def start_or_resume(session: Session, study: Study, visit: PlatformVisit | None = None, *,
                    token: str | None = None, id_key: bytes | None = None,
                    client: str | None = None, enrol_limit: int = 0,
                    enrol_window_s: float = 600.0) -> StartResult:
    """Start a participant on ``study``, or resume the one these credentials belong to
    (the rules are in this module's docstring). Commits before returning.

    ``client`` (the browser's address) and ``enrol_limit`` > 0 bound how many new
    participants one client may start per ``enrol_window_s``; resuming is never limited.

    ``id_key`` is the server's platform-id key
    (:func:`~xai_eval.studies.platform.platform_id_key`); it is required when ``visit``
    carries platform ids.
    """
    visit = visit or PlatformVisit()
    if token:
        try:
            participant = participant_for_token(session, token)
        except InvalidTokenError:
            participant = None
        if participant is not None and participant.study_id == study.id:
            return StartResult(participant.id, token, True, participant.status)
    if visit.is_preview:
        raise PreviewModeError("this is an MTurk preview: accept the HIT to start the study")
    if visit.ids and id_key is None:
        raise TypeError("start_or_resume needs id_key to hash the visit's platform ids; pass "
                        "platform_id_key(config) of the server's configuration")
    begin_write(session)
    id_hash = None
    if visit.main_id:
        assert id_key is not None
        id_hash = hash_platform_id(visit.main_id, study.id_salt, id_key)
        existing = session.scalar(select(Participant).where(
            Participant.study_id == study.id, Participant.platform_id_hash == id_hash))
        if existing is not None:
            return _resume_by_platform_id(session, study, existing, visit, id_key)
    if study.status != "open":
        raise StudyClosedError(f"study {study.slug!r} is {study.status} and accepts no new "
                               "participants")
    if study.parameters.get("require_platform_id") and not visit.main_id:
        raise PlatformIdRequiredError(
            "this study is open only to participants sent by Prolific or MTurk: please open "
            "it from the link on the platform")
    policy = (throttle.Policy(threshold=enrol_limit, window_s=enrol_window_s,
                              base_s=enrol_window_s, max_s=enrol_window_s)
              if client and enrol_limit > 0 else None)
    if policy is not None and client is not None:
        wait = throttle.blocked_for(session, throttle.ENROL_CLIENT, client)
        if wait:
            raise ThrottledError(f"too many new sessions from this network; try again in "
                                 f"{wait} s, or continue the session you already started",
                                 wait)
    fresh = new_token()
    stored_ids = (visit.stored(study.id_salt, id_key,
                              plain=study.parameters.get("store_platform_ids") == "plain")
                  if id_key is not None else {})
    session_hash = (hash_platform_id(visit.session_id, study.id_salt, id_key)
                    if visit.session_id and id_key is not None else None)
    try:
        participant = _write_participant(session, study, task_for(study), hash_token(fresh),
                                         visit.platform, id_hash, stored_ids)
        participant.platform_session_hash = session_hash
        if policy is not None and client is not None:
            blocked = throttle.record_event(session, throttle.ENROL_CLIENT, client, policy)
            if blocked:
                record_audit(session, "participant", "enrolment_throttled", study,
                             {"seconds": blocked}, commit=False)
        session.commit()
    except IntegrityError:
        # the same platform id started concurrently: resume that participant instead
        session.rollback()
        if id_hash is None:
            raise
        return start_or_resume.__wrapped__(session, study, visit, id_key=id_key, client=client,
                                           enrol_limit=enrol_limit,
                                           enrol_window_s=enrol_window_s)
    return StartResult(participant.id, fresh, False, participant.status)


def _resume_by_platform_id(session: Session, study: Study, existing: Participant,
                           visit: PlatformVisit, id_key: bytes) -> StartResult:
    """Resume ``existing`` for this visit if its platform session is the participant's own
    (or a researcher allowed re-entry); otherwise refuse, audited, and change nothing."""
    if existing.status != "started":
        raise AlreadyCompletedError(
            "you have already taken part in this study; it can be taken only once")
    given = (hash_platform_id(visit.session_id, study.id_salt, id_key)
             if visit.session_id else None)
    same = given is not None and existing.platform_session_hash is not None and hmac.compare_digest(
        given, existing.platform_session_hash)
    if not same and not existing.reentry_allowed:
        reason = "no platform session" if given is None else "another platform session"
        record_audit(session, "participant", "resume_refused", study,
                     {"participant": existing.id, "reason": reason}, commit=False)
        session.commit()
        raise PlatformSessionMismatchError(
            "this participant id is already taking the study in another session, so it cannot "
            "be continued here. Please go back to the browser or tab where you started. If "
            "that is not possible, contact the researcher through the platform and ask them "
            "to allow you to continue here.")
    if not same:  # the researcher's one-time permission: bind the new session
        existing.platform_session_hash = given
        existing.reentry_allowed = False
        record_audit(session, "participant", "participant_reentry", study,
                     {"participant": existing.id}, commit=False)
    fresh = new_token()
    existing.token_hash = hash_token(fresh)
    session.commit()
    return StartResult(existing.id, fresh, True, existing.status)


@with_retry
def allow_reentry(session: Session, study: Study, platform_id: str, id_key: bytes,
                  actor: str) -> int | None:
    """Let the participant with this Prolific PID / MTurk workerId resume once from a new
    platform session or browser (the old token is then replaced). Returns the participant's
    id, or None if the id is not enrolled. Audited either way; commits."""
    id_hash = hash_platform_id(platform_id.strip(), study.id_salt, id_key)
    participant = session.scalar(select(Participant).where(
        Participant.study_id == study.id, Participant.platform_id_hash == id_hash))
    if participant is not None:
        participant.reentry_allowed = True
    record_audit(session, actor, "reentry_allowed", study,
                 {"participant": participant.id if participant else None,
                  "found": participant is not None}, commit=False)
    session.commit()
    return participant.id if participant is not None else None


#: The seeded stream that replaces the OS's randomness inside :func:`seeded_enrolment`.
_pilot_stream: random.Random | None = None


def _sequence_rng() -> random.Random:
    """A participant's shuffling randomness: from the OS (participants cannot predict their
    order), or from the pilot's seeded stream so one pilot command always gives one result."""
    if _pilot_stream is not None:
        return random.Random(_pilot_stream.getrandbits(64))
    return random.Random(secrets.randbits(64))


@contextmanager
def seeded_enrolment(seed: int) -> Iterator[None]:
    """Within this block every enrolment shuffles from one stream seeded with ``seed``.

    For simulated pilots only (one process, a scratch database): a real study must keep
    drawing from the OS.
    """
    global _pilot_stream
    previous, _pilot_stream = _pilot_stream, random.Random(seed)
    try:
        yield
    finally:
        _pilot_stream = previous


def _write_participant(session: Session, study: Study, task: StudyTask, token_hash: str,
                       platform: str, id_hash: str | None,
                       stored_ids: dict[str, str]) -> Participant:
    """Add a participant with a balanced, shuffled, counterbalanced sequence (not committed).

    The study row is write-locked first (a no-op UPDATE), so concurrent enrolments are
    serialised and each sees the counts the previous one wrote: balance holds under load.
    """
    session.execute(update(Study).where(Study.id == study.id).values(status=Study.status))
    params = study.parameters
    rng = _sequence_rng()
    items = list(session.scalars(select(Item).where(Item.study_id == study.id)))
    by_kind: dict[str, list[Item]] = {"main": [], "practice": [], "attention": []}
    for item in items:
        by_kind[item.kind].append(item)
    shown = _shown_counts(session, study, int(params.get("abandon_after_minutes",
                                                         ABANDON_AFTER_MINUTES)))
    n_practice = int(params.get("practice_trials", 0))
    if task.between_subjects:
        condition = choose_condition(by_kind["practice"] + by_kind["main"], shown, rng)
        by_kind["practice"] = [i for i in by_kind["practice"] if i.condition == condition]
        by_kind["main"] = [i for i in by_kind["main"] if i.condition == condition]
        n_practice = len(by_kind["practice"])  # the whole training phase of the condition
    mains = {item.id: shown.get(item.id, 0) for item in by_kind["main"]}
    groups = ({item.id: item.image_id for item in by_kind["main"]}
              if params.get("distinct_images", False) else None)
    k = int(params.get("trials_per_participant", len(mains)))
    chosen = choose_balanced(mains, k, rng, groups)
    practice = [i.id for i in sorted(by_kind["practice"], key=lambda i: i.key)][:n_practice]
    attention_pool = [i.id for i in by_kind["attention"]]
    attention = rng.sample(attention_pool,
                           min(int(params.get("attention_checks", 0)), len(attention_pool)))
    participant = Participant(study_id=study.id, token_hash=token_hash, platform=platform,
                              platform_id_hash=id_hash, platform_ids=stored_ids)
    session.add(participant)
    session.flush()
    item_by_id = {item.id: item for item in items}
    for index, slot in enumerate(build_sequence(practice, chosen, attention, rng)):
        item = item_by_id[slot.item_id]
        flip = counterbalance_flip(item.key, shown.get(item.id, 0))
        session.add(TrialInstance(
            public_id=secrets.token_urlsafe(16), participant_id=participant.id, item_id=item.id,
            order_index=index, kind=slot.kind, placement=task.placement(item.payload, flip)))
    session.flush()
    session.refresh(participant)
    return participant


def _shown_counts(session: Session, study: Study, abandon_after_minutes: int) -> Counter[int]:
    """How often each item is assigned to a participant who counts for balancing: one who
    completed, or who started less than ``abandon_after_minutes`` ago. Abandoned sessions
    (and excluded/returned participants) free their items, so completed ratings stay
    balanced; an abandoned participant who comes back still finds their own sequence."""
    cutoff = datetime.now(timezone.utc) - timedelta(minutes=abandon_after_minutes)
    counted = or_(Participant.status == "completed",
                  and_(Participant.status == "started", Participant.started_at >= cutoff))
    rows = session.execute(
        select(TrialInstance.item_id)
        .join(Participant, Participant.id == TrialInstance.participant_id)
        .where(Participant.study_id == study.id, counted))
    return Counter(item_id for (item_id,) in rows)
