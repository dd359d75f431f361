"""Logging in to and out of the admin area.

Passwords are checked by the admin service
(:func:`~xai_eval.studies.login.login_admin`: throttled in the database, audited, never
sleeping a server thread; a blocked account or client gets 429 with ``Retry-After`` from the
error handler). A successful login clears the session first (no fixation) and stores only
a server-side session token; only a local ``/admin`` path is followed afterwards.
"""

from __future__ import annotations

from flask import (
    abort,
    current_app,
    flash,
    g,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from werkzeug.wrappers import Response

from xai_eval.studies import admin_service as service
from xai_eval.studies.errors import ThrottledError
from xai_eval.web.admin.blueprint import SESSION_KEY, bp, login_required
from xai_eval.web.clients import client_key
from xai_eval.web.database import get_session
from xai_eval.web.login_gate import LoginGate

LOGIN_CLIENT = "login_client"


def login_gate() -> LoginGate:
    """This process's memo of blocked clients (:mod:`xai_eval.web.login_gate`)."""
    return current_app.extensions["xai_eval_login_gate"]


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
    if not username or len(username) > service.MAX_USERNAME or len(password) > service.MAX_PASSWORD:
        abort(400, description=f"username (1-{service.MAX_USERNAME} characters) and password "
                               f"(at most {service.MAX_PASSWORD}) are required")
    db = get_session()
    client = client_key()
    try:
        user = service.login_admin(db, username, password, client=client)
    except ThrottledError as exc:
        if exc.scope == LOGIN_CLIENT:  # refuse this client's next logins before the app runs
            login_gate().remember(client, exc.retry_after)
        raise
    if user is None:
        flash("Wrong username or password.")
        return render_template("admin/login.html", next=request.form.get("next", "")), 401
    token = service.start_session(db, user)
    session.clear()
    session[SESSION_KEY] = token
    return redirect(_safe_next(request.form.get("next")))


@bp.post("/logout")
def logout() -> Response:
    service.end_session(get_session(), session.pop(SESSION_KEY, None))
    return redirect(url_for("admin.login"))


@bp.post("/logout-everywhere")
@login_required
def logout_everywhere() -> Response:
    """End every session of this admin (other browsers, copied cookies, this one)."""
    service.end_all_sessions(get_session(), g.admin)
    session.pop(SESSION_KEY, None)
    flash("Logged out on every device.")
    return redirect(url_for("admin.login"))
