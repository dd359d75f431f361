"""A participant's browser: starting or resuming from a platform visit, and the token cookie.

The token is the participant's only credential (the database keeps its SHA-256). It lives
in the signed, HttpOnly session cookie and is never put into a page or a JSON body, so a
script injected into a page could not read it either. The cookie may hold tokens of
several studies; ``current`` names the one the ``/api/sessions/current/...`` endpoints act
on. Both ways in (the consent form and ``POST /api/studies/<slug>/sessions``) enrol through
:func:`enrol`, so they start and resume exactly alike; who may start or resume is decided
by the participant service (:mod:`xai_eval.studies.enrolment`).
"""

from __future__ import annotations

from flask import current_app, session

from xai_eval.studies import participant_service as service
from xai_eval.studies.errors import InvalidTokenError
from xai_eval.web.clients import client_key
from xai_eval.web.database import get_session, write_lock

_TOKENS = "participant_tokens"
_CURRENT = "participant_current"
#: Extra per-study values kept for the debrief (MTurk assignment and submit URL).
_EXTRA = "participant_extra"


def enrol(slug: str, visit: service.PlatformVisit, *, clear_extras: bool) -> service.StartResult:
    """Start or resume ``visit``'s participant in study ``slug`` and remember the token.

    One serialised write through the participant service, hashing the visit's ids with the
    app's key (:func:`~xai_eval.studies.platform.platform_id_key`, the one the CLI uses too)
    and limiting new participants per client address (``ENROL_LIMIT_PER_CLIENT`` per
    ``ENROL_WINDOW_MINUTES``; 0 turns the limit off).
    ``clear_extras``: a non-MTurk visit replaces stored MTurk debrief values with none (the
    API's rule) instead of keeping them (the consent page's rule).
    """
    db = get_session()
    study = service.get_study(db, slug)
    with write_lock():
        config = current_app.config
        started = service.start_or_resume(
            db, study, visit, token=token_for(slug), id_key=service.platform_id_key(config),
            client=client_key(), enrol_limit=int(config["ENROL_LIMIT_PER_CLIENT"]),
            enrol_window_s=60 * float(config["ENROL_WINDOW_MINUTES"]))
    if visit.platform == "mturk":
        extra: dict[str, str] | None = {"assignmentId": visit.ids.get("assignmentId", ""),
                                        "submit_url": visit.mturk_submit_url or ""}
    else:
        extra = {} if clear_extras else None
    remember(slug, started.token, extra)
    return started


def remember(slug: str, token: str, extra: dict[str, str] | None = None) -> None:
    tokens = dict(session.get(_TOKENS, {}))
    tokens[slug] = token
    session[_TOKENS] = tokens
    session[_CURRENT] = slug
    if extra is not None:
        extras = dict(session.get(_EXTRA, {}))
        extras[slug] = extra
        session[_EXTRA] = extras
    session.permanent = True


def token_for(slug: str) -> str | None:
    token = session.get(_TOKENS, {}).get(slug)
    return token if isinstance(token, str) else None


def extra_for(slug: str) -> dict[str, str]:
    return dict(session.get(_EXTRA, {}).get(slug, {}))


def current_token() -> str:
    """The token of the study this browser is taking, or :class:`InvalidTokenError`."""
    slug = session.get(_CURRENT)
    token = token_for(slug) if isinstance(slug, str) else None
    if token is None:
        raise InvalidTokenError("no study session in this browser; open the study link first "
                                "(POST /api/studies/<slug>/sessions)")
    return token

