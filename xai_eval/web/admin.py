"""The admin area at ``/admin/``: login, the list of studies with live progress.

Every view but the login page is wrapped in :func:`login_required`; an anonymous request is
redirected to the login page (HTML) and never sees data. Passwords are checked against the
werkzeug hash in :class:`~xai_eval.db.studies.AdminUser`; a successful login clears the
session first (no fixation) and is written to the audit log. The per-study pages (results,
exclusions, exports, status) live in :mod:`xai_eval.web.admin_study`.
"""

from __future__ import annotations

import functools
import time
from collections.abc import Callable
from typing import Any, TypeVar

from flask import (
    Blueprint,
    abort,
    flash,
    g,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from werkzeug.wrappers import Response

from xai_eval.db.studies import AdminUser
from xai_eval.studies import service
from xai_eval.web.database import get_session

bp = Blueprint("admin", __name__, url_prefix="/admin")
F = TypeVar("F", bound=Callable[..., Any])
MAX_USERNAME = 64
MAX_PASSWORD = 256
#: Constant delay after a failed login: slows guessing without locking anyone out.
FAILED_LOGIN_DELAY_S = 0.5


def login_required(view: F) -> F:
    """Redirect to the login page unless an admin is logged in (``g.admin`` is set)."""

    @functools.wraps(view)
    def wrapped(*args: Any, **kwargs: Any) -> Any:
        admin_id = session.get("admin_id")
        user = get_session().get(AdminUser, admin_id) if isinstance(admin_id, int) else None
        if user is None:
            session.pop("admin_id", None)
            return redirect(url_for("admin.login", next=request.path))
        g.admin = user
        return view(*args, **kwargs)

    return wrapped  # type: ignore[return-value]


def actor() -> str:
    """The logged-in admin's name, for the audit log."""
    user = getattr(g, "admin", None)
    return user.username if user is not None else "anonymous"


def _safe_next(target: str | None) -> str:
    """Only local admin paths: never redirect to another site after login."""
    if target and target.startswith("/admin") and not target.startswith("//"):
        return target
    return url_for("admin.index")


@bp.route("/login", methods=["GET", "POST"])
def login() -> Response | str | tuple[str, int]:
    if request.method == "GET":
        return render_template("admin/login.html", next=request.args.get("next", ""))
    username = request.form.get("username", "")
    password = request.form.get("password", "")
    if not username or len(username) > MAX_USERNAME or len(password) > MAX_PASSWORD:
        abort(400, description=f"username (1-{MAX_USERNAME} characters) and password "
                               f"(at most {MAX_PASSWORD}) are required")
    user = service.authenticate_admin(get_session(), username, password)
    if user is None:
        time.sleep(FAILED_LOGIN_DELAY_S)
        flash("Wrong username or password.")
        return render_template("admin/login.html", next=request.form.get("next", "")), 401
    user_id = user.id
    session.clear()
    session["admin_id"] = user_id
    return redirect(_safe_next(request.form.get("next")))


@bp.post("/logout")
def logout() -> Response:
    session.pop("admin_id", None)
    return redirect(url_for("admin.login"))


@bp.get("/")
@login_required
def index() -> str:
    db = get_session()
    rows = [(study, service.progress(db, study)) for study in service.list_studies(db)]
    return render_template("admin/index.html", rows=rows)


from xai_eval.web import admin_study  # noqa: E402,F401  (registers the per-study views)
