"""Admin sessions live on the server (issue 8): logout, idle timeout, lifetime and "log out
everywhere" end every copy of the cookie."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from sqlalchemy import select, update

from tests.web.conftest import ADMIN_PASSWORD, ADMIN_USER
from tests.web.test_security import login
from xai_eval.db.base import make_engine, session_factory
from xai_eval.db.studies import AdminSession, AuditLog
from xai_eval.studies import accounts

COOKIE = "xai_eval_session"


def copy_of(app, client):
    """A second browser holding a copy of ``client``'s cookie (what a thief would have)."""
    thief = app.test_client()
    thief.set_cookie(COOKIE, client.get_cookie(COOKIE).value)
    return thief


def logged_in(app):
    client = app.test_client()
    assert login(client).status_code == 302
    assert client.get("/admin/").status_code == 200
    return client


def post(client, path):
    token = client.get("/api/csrf").get_json()["csrf_token"]
    return client.post(path, data={"csrf_token": token})


def change_sessions(db_url, **values):
    engine = make_engine(db_url)
    with session_factory(engine)() as s:
        s.execute(update(AdminSession).values(**values))
        s.commit()
    engine.dispose()


def actions(db_url):
    engine = make_engine(db_url)
    with session_factory(engine)() as s:
        found = [r.action for r in s.scalars(select(AuditLog).order_by(AuditLog.id))]
    engine.dispose()
    return found


def test_a_cookie_copied_before_logout_is_dead_after_it(app, db_url):
    client = logged_in(app)
    thief = copy_of(app, client)
    assert thief.get("/admin/").status_code == 200
    post(client, "/admin/logout")
    assert client.get("/admin/").status_code == 302
    response = thief.get("/admin/")
    assert response.status_code == 302 and "/admin/login" in response.headers["Location"]
    assert "admin_logout" in actions(db_url)


def test_the_cookie_holds_no_admin_id(app):
    client = logged_in(app)
    from flask.sessions import SecureCookieSessionInterface

    serializer = SecureCookieSessionInterface().get_signing_serializer(app)
    data = serializer.loads(client.get_cookie(COOKIE).value)
    assert "admin_id" not in data and len(data["admin_session"]) >= 40


def test_idle_sessions_end(app, db_url):
    client = logged_in(app)
    change_sessions(db_url, last_seen_at=datetime.now(timezone.utc) - timedelta(minutes=31))
    assert client.get("/admin/").status_code == 302


def test_active_sessions_are_kept_alive_but_not_past_their_lifetime(app, db_url):
    client = logged_in(app)
    change_sessions(db_url, last_seen_at=datetime.now(timezone.utc) - timedelta(minutes=20))
    assert client.get("/admin/").status_code == 200  # refreshes last_seen_at
    change_sessions(db_url, created_at=datetime.now(timezone.utc) - timedelta(hours=13))
    assert client.get("/admin/").status_code == 302


def test_log_out_everywhere(app, db_url):
    here, there = logged_in(app), logged_in(app)
    thief = copy_of(app, there)
    response = post(here, "/admin/logout-everywhere")
    assert response.status_code == 302
    for client in (here, there, thief):
        assert client.get("/admin/").status_code == 302
    assert "admin_logout_everywhere" in actions(db_url)
    assert logged_in(app).get("/admin/").status_code == 200  # a new login works


def test_a_password_reset_ends_the_sessions(app, db_url):
    client = logged_in(app)
    engine = make_engine(db_url)
    with session_factory(engine)() as s:
        accounts.create_admin(s, ADMIN_USER, ADMIN_PASSWORD + "!")
    engine.dispose()
    assert client.get("/admin/").status_code == 302


def test_login_next_never_points_at_a_post_only_route(app):
    client = app.test_client()
    token = client.get("/api/csrf").get_json()["csrf_token"]
    response = client.post("/admin/studies/sample/status",
                           data={"status": "closed", "csrf_token": token})
    assert response.status_code == 302
    assert "next=" not in response.headers["Location"]
