"""The admin blueprint object and its guard, imported by every admin view module.

Every view but the login page is wrapped in :func:`login_required`; an anonymous request is
redirected to the login page and never sees data. Which admin a session belongs to is
looked up again on every request through the admin service
(:func:`~xai_eval.studies.accounts.admin_by_id`), so a deleted account is out at once.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, TypeVar

from flask import Blueprint, g, redirect, request, session, url_for

from xai_eval.studies import admin_service as service
from xai_eval.web.database import get_session

bp = Blueprint("admin", __name__, url_prefix="/admin")
F = TypeVar("F", bound=Callable[..., Any])
#: Where the logged-in admin's id is kept in the signed session cookie.
SESSION_KEY = "admin_id"


def login_required(view: F) -> F:
    """Redirect to the login page unless an admin is logged in (then ``g.admin`` is set)."""

    @functools.wraps(view)
    def wrapped(*args: Any, **kwargs: Any) -> Any:
        user = service.admin_by_id(get_session(), session.get(SESSION_KEY))
        if user is None:
            session.pop(SESSION_KEY, None)
            return redirect(url_for("admin.login", next=request.path))
        g.admin = user
        return view(*args, **kwargs)

    return wrapped  # type: ignore[return-value]


def actor() -> str:
    """The logged-in admin's name, for the audit log."""
    user = getattr(g, "admin", None)
    return user.username if user is not None else "anonymous"
