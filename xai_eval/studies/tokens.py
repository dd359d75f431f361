"""The participant token: a participant's only credential.

A token is ``secrets.token_urlsafe(32)``; the database keeps only its SHA-256, so a copy
of the database does not let anyone answer for a participant. It is handed out once, by
:func:`xai_eval.studies.enrolment.start_or_resume`, and every later call of the
participant service names the participant by it.
"""

from __future__ import annotations

import hashlib
import secrets

from sqlalchemy import select
from sqlalchemy.orm import Session

from xai_eval.db.studies import Participant, Study
from xai_eval.studies.errors import InvalidTokenError

#: Longest accepted token / trial id string.
MAX_ID_CHARS = 128


def new_token() -> str:
    """A fresh random token (shown once; store :func:`hash_token` of it)."""
    return secrets.token_urlsafe(32)


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


def token_is_valid(session: Session, token: str | None) -> bool:
    """True when ``token`` belongs to some participant (a browser that can resume)."""
    try:
        participant_for_token(session, token)
    except InvalidTokenError:
        return False
    return True


def study_of(session: Session, participant: Participant) -> Study:
    """The participant's study (already in the identity map after :func:`participant_for_token`)."""
    study = session.get(Study, participant.study_id)
    assert study is not None  # a foreign key with ON DELETE CASCADE
    return study
