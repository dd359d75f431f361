"""The admin blueprint object and its guard, imported by every admin view module.

Every view but the login page is wrapped in :func:`login_required`; an anonymous request is
redirected to the login page and never sees data. The signed cookie holds only a session
token; the admin service (:func:`~xai_eval.studies.admin_sessions.admin_for_session`)
looks it up on every request, so logout, the idle timeout (``ADMIN_IDLE_MINUTES``), the
absolute lifetime (``ADMIN_SESSION_HOURS``), "log out everywhere", a password reset and a
deleted account all end the session at once, for every copy of the cookie.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from datetime import timedelta
from typing import Any, TypeVar

from flask import Blueprint, current_app, g, redirect, request, session, url_for

from xai_eval.studies import admin_service as service
from xai_eval.web.database import get_session

bp = Blueprint("admin", __name__, url_prefix="/admin")
F = TypeVar("F", bound=Callable[..., Any])
#: Where the admin session token is kept in the signed session cookie.
SESSION_KEY = "admin_session"


def current_admin() -> Any:
    """The admin of this request's session token, or None."""
    config = current_app.config
    return service.admin_for_session(
        get_session(), session.get(SESSION_KEY),
        idle=timedelta(minutes=float(config.get("ADMIN_IDLE_MINUTES", 30))),
        max_age=timedelta(hours=float(config.get("ADMIN_SESSION_HOURS", 12))))


def login_required(view: F) -> F:
    """Redirect to the login page unless an admin is logged in (then ``g.admin`` is set)."""

    @functools.wraps(view)
    def wrapped(*args: Any, **kwargs: Any) -> Any:
        user = current_admin()
        if user is None:
            session.pop(SESSION_KEY, None)
            target = request.path if request.method == "GET" else None
            return redirect(url_for("admin.login", next=target))
        g.admin = user
        return view(*args, **kwargs)

    return wrapped  # type: ignore[return-value]


def actor() -> str:
    """The logged-in admin's name, for the audit log."""
    user = getattr(g, "admin", None)
    return user.username if user is not None else "anonymous"
