"""Logging in to and out of the admin area.

Passwords are checked by the admin service
(:func:`~xai_eval.studies.accounts.authenticate_admin`, which audits every attempt); a
successful login clears the session first (no fixation) and only a local ``/admin`` path
is followed afterwards.
"""

from __future__ import annotations

import time

from flask import abort, flash, redirect, render_template, request, session, url_for
from werkzeug.wrappers import Response

from xai_eval.studies import admin_service as service
from xai_eval.web.admin.blueprint import SESSION_KEY, bp
from xai_eval.web.database import get_session

#: Constant delay after a failed login: slows guessing without locking anyone out.
FAILED_LOGIN_DELAY_S = 0.5


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
    user = service.authenticate_admin(get_session(), username, password)
    if user is None:
        time.sleep(FAILED_LOGIN_DELAY_S)
        flash("Wrong username or password.")
        return render_template("admin/login.html", next=request.form.get("next", "")), 401
    user_id = user.id
    session.clear()
    session[SESSION_KEY] = user_id
    return redirect(_safe_next(request.form.get("next")))


@bp.post("/logout")
def logout() -> Response:
    session.pop(SESSION_KEY, None)
    return redirect(url_for("admin.login"))
