"""The app's protections, in one place so they can be audited together.

* CSRF: Flask-WTF's ``CSRFProtect`` checks every POST/PUT/PATCH/DELETE: forms carry a
  hidden ``csrf_token``, the JSON API sends the token in the ``X-CSRFToken`` header (the
  pages put it in a ``<meta>`` tag; automation reads it from ``GET /api/csrf``).
* Framing: participant pages may be framed by MTurk (which shows ExternalQuestion HITs in
  an iframe) and by ourselves; every other page, admin included, refuses framing.
* Cookies: HttpOnly, SameSite=Lax, and Secure unless the app runs in debug/testing mode.
* Sizes: ``MAX_CONTENT_LENGTH`` bounds every request body (413 beyond it); field limits
  are enforced where the fields are read (platform ids in :mod:`xai_eval.studies.platform`,
  answers in the participant service).
* Bodies: JSON that cannot be parsed, nested too deeply included (5,000 ``[`` is 10 KB and
  used to raise ``RecursionError`` -> 500), is read as no body, which the endpoints answer
  with 422 (:class:`SafeJSONProvider`).
* Errors: HTML for pages, JSON for ``/api``; never a stack trace (it goes to the log).
"""

from __future__ import annotations

import logging
from typing import Any

from flask import Flask, Response, jsonify, render_template, request
from flask.json.provider import DefaultJSONProvider
from flask_wtf.csrf import CSRFError, CSRFProtect
from werkzeug.exceptions import HTTPException, InternalServerError

from xai_eval.studies.participant_service import MTURK_SUBMIT_ORIGINS

csrf = CSRFProtect()
log = logging.getLogger(__name__)

#: Where MTurk shows an ExternalQuestion (production and sandbox use subdomains).
MTURK_FRAME_ANCESTORS = "https://*.mturk.com https://mturk.com"
# The debrief page may POST the finished assignment to MTURK_SUBMIT_ORIGINS (the only
# turkSubmitTo values the platform module accepts).

_BASE_CSP = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
             "connect-src 'self'; object-src 'none'; base-uri 'none'")
PARTICIPANT_CSP = (f"{_BASE_CSP}; form-action 'self' {' '.join(MTURK_SUBMIT_ORIGINS)}; "
                   f"frame-ancestors 'self' {MTURK_FRAME_ANCESTORS}")
DENY_CSP = f"{_BASE_CSP}; form-action 'self'; frame-ancestors 'none'"


#: Deepest nesting of arrays/objects a request body may have (an answer needs 1-2 levels).
MAX_JSON_DEPTH = 32


class SafeJSONProvider(DefaultJSONProvider):
    """Flask's JSON, except that a body nested deeper than :data:`MAX_JSON_DEPTH` (or so deep
    that the parser recurses out) is a ``ValueError`` like any other unparsable body, so
    ``get_json(silent=True)`` gives None and the endpoint answers 422, never 500."""

    def loads(self, s: str | bytes, **kwargs: Any) -> Any:
        text = s.decode("utf-8") if isinstance(s, bytes) else s
        if _nesting(text) > MAX_JSON_DEPTH:
            raise ValueError(f"JSON nested deeper than {MAX_JSON_DEPTH} levels")
        try:
            return super().loads(text, **kwargs)
        except RecursionError:  # pragma: no cover - the depth check comes first
            raise ValueError("JSON nested too deeply") from None


def _nesting(text: str) -> int:
    """Upper bound of the nesting depth: brackets counted outside strings."""
    depth = deepest = 0
    in_string = escaped = False
    for char in text:
        if in_string:
            if escaped:
                escaped = False
            elif char == "\\":
                escaped = True
            elif char == '"':
                in_string = False
        elif char == '"':
            in_string = True
        elif char in "[{":
            depth += 1
            deepest = max(deepest, depth)
        elif char in "]}":
            depth -= 1
    return deepest


def init_app(app: Flask) -> None:
    """Configure cookies, CSRF, headers and error handlers on ``app``."""
    app.json = SafeJSONProvider(app)
    if app.config.get("SESSION_COOKIE_SECURE") is None:
        app.config["SESSION_COOKIE_SECURE"] = not (app.debug or app.testing)
    app.config["SESSION_COOKIE_HTTPONLY"] = True
    if not app.config.get("SESSION_COOKIE_SAMESITE"):
        app.config["SESSION_COOKIE_SAMESITE"] = "Lax"
    app.config["WTF_CSRF_HEADERS"] = ["X-CSRFToken", "X-CSRF-Token"]
    # The token lives as long as the participant's session, not one hour: a participant
    # who pauses for lunch must still be able to answer.
    app.config["WTF_CSRF_TIME_LIMIT"] = app.config.get("WTF_CSRF_TIME_LIMIT_S")
    csrf.init_app(app)
    app.after_request(_security_headers)
    app.register_error_handler(CSRFError, _csrf_error)
    app.register_error_handler(HTTPException, _http_error)
    app.register_error_handler(Exception, _unexpected_error)


def _security_headers(response: Response) -> Response:
    headers = response.headers
    if request.blueprint == "participant":
        headers["Content-Security-Policy"] = PARTICIPANT_CSP
        # Platform ids sit in the query string: never leak them to another site.
        headers["Referrer-Policy"] = "no-referrer"
    else:
        headers["Content-Security-Policy"] = DENY_CSP
        headers["X-Frame-Options"] = "DENY"
        headers["Referrer-Policy"] = "same-origin"
    headers["X-Content-Type-Options"] = "nosniff"
    headers["Cross-Origin-Opener-Policy"] = "same-origin-allow-popups"
    if request.blueprint in ("api", "admin", "participant") and "Cache-Control" not in headers:
        headers["Cache-Control"] = "no-store"
    if request.is_secure:
        headers["Strict-Transport-Security"] = "max-age=31536000"
    return response


def wants_json() -> bool:
    return request.path.startswith("/api/") or request.path == "/api"


def error_response(status: int, error: str, message: str) -> tuple[Response | str, int]:
    """JSON ``{"error", "message"}`` under /api, an HTML page elsewhere."""
    if wants_json():
        return jsonify(error=error, message=message), status
    return render_template("errors/error.html", status=status, error=error,
                           message=message), status


def _csrf_error(exc: CSRFError) -> tuple[Response | str, int]:
    return error_response(400, "csrf_failed",
                          f"{exc.description} Reload the page and try again; API clients send "
                          "the token from GET /api/csrf in the X-CSRFToken header.")


def _http_error(exc: HTTPException) -> tuple[Response | str, int]:
    status = exc.code or 500
    if status == 413:
        return error_response(413, "too_large", "The request body is larger than this server "
                              "accepts; an answer is a few hundred bytes.")
    name = (exc.name or "error").lower().replace(" ", "_")
    return error_response(status, name, exc.description or exc.name)


def _unexpected_error(exc: Exception) -> tuple[Response | str, int]:
    if isinstance(exc, HTTPException):  # pragma: no cover - routed to _http_error first
        return _http_error(exc)
    log.exception("unhandled error on %s %s", request.method, request.path)
    return error_response(InternalServerError.code, "internal_error",
                          "Something went wrong on the server; your previous answers are saved. "
                          "Please reload the page in a moment.")
