"""Where the participant token lives in the browser: the signed, HttpOnly session cookie.

The token is the participant's only credential (the database keeps its SHA-256). It is
never put into a page or a JSON body, so a script injected into a page could not read it
either. The cookie may hold tokens of several studies; ``current`` names the one the
``/api/sessions/current/...`` endpoints act on.
"""

from __future__ import annotations

from flask import session

from xai_eval.studies.errors import InvalidTokenError

_TOKENS = "participant_tokens"
_CURRENT = "participant_current"
#: Extra per-study values kept for the debrief (MTurk assignment and submit URL).
_EXTRA = "participant_extra"


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


def current_slug() -> str | None:
    slug = session.get(_CURRENT)
    return slug if isinstance(slug, str) else None
