"""Headers, cookies, login walls and error pages: what makes the app safe for crowd work."""

from __future__ import annotations

import pytest

from tests.web.conftest import ADMIN_PASSWORD, ADMIN_USER
from xai_eval.web.app import create_app


def test_participant_pages_are_frameable_by_mturk_only(app):
    response = app.test_client().get("/study/sample/")
    assert response.status_code == 200
    csp = response.headers["Content-Security-Policy"]
    assert "frame-ancestors 'self' https://*.mturk.com https://mturk.com" in csp
    assert "X-Frame-Options" not in response.headers
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["Referrer-Policy"] == "no-referrer"
    assert "https://" not in csp.split("frame-ancestors")[0].replace(
        "https://www.mturk.com", "").replace("https://workersandbox.mturk.com", "")


@pytest.mark.parametrize("path", ["/admin/login", "/admin/", "/api/csrf"])
def test_admin_and_api_refuse_framing(app, path):
    response = app.test_client().get(path)
    assert response.headers["X-Frame-Options"] == "DENY"
    assert "frame-ancestors 'none'" in response.headers["Content-Security-Policy"]


@pytest.mark.parametrize("path", ["/admin/", "/admin/studies/sample",
                                  "/admin/studies/sample/export/responses.csv",
                                  "/admin/studies/sample/chart.png", "/admin/audit"])
def test_admin_routes_redirect_to_login(app, path):
    response = app.test_client().get(path)
    assert response.status_code == 302
    assert response.headers["Location"].startswith("/admin/login")


def test_admin_status_change_needs_login_and_csrf(app):
    client = app.test_client()
    assert client.post("/admin/studies/sample/status", data={"status": "closed"}).status_code == 400
    token = client.get("/api/csrf").get_json()["csrf_token"]
    anonymous = client.post("/admin/studies/sample/status",
                            data={"status": "closed", "csrf_token": token})
    assert anonymous.status_code == 302 and "/admin/login" in anonymous.headers["Location"]


def login(client, password=ADMIN_PASSWORD):
    token = client.get("/api/csrf").get_json()["csrf_token"]
    return client.post("/admin/login", data={"username": ADMIN_USER, "password": password,
                                              "csrf_token": token, "next": "/admin/"})


def test_wrong_password_is_refused(app):
    client = app.test_client()
    response = login(client, "wrong password!")
    assert response.status_code == 401
    assert client.get("/admin/").status_code == 302


def test_login_lists_studies_and_logs_out(app):
    client = app.test_client()
    response = login(client)
    assert response.status_code == 302 and response.headers["Location"] == "/admin/"
    page = client.get("/admin/")
    assert page.status_code == 200 and b"sample" in page.data
    token = client.get("/api/csrf").get_json()["csrf_token"]
    client.post("/admin/logout", data={"csrf_token": token})
    assert client.get("/admin/").status_code == 302


def test_login_does_not_redirect_off_site(app):
    client = app.test_client()
    token = client.get("/api/csrf").get_json()["csrf_token"]
    response = client.post("/admin/login", data={"username": ADMIN_USER,
                                                 "password": ADMIN_PASSWORD,
                                                 "csrf_token": token,
                                                 "next": "//evil.example/admin"})
    assert response.headers["Location"] == "/admin/"


def test_session_cookie_flags(app):
    client = app.test_client()
    response = client.get("/api/csrf")
    cookie = response.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie
    # testing mode allows plain HTTP; production mode requires Secure:
    assert "Secure" not in cookie


def test_production_cookies_are_secure(db_url, tmp_path):
    from tests.web.conftest import migrated

    migrated(db_url)
    production = create_app({"DATABASE_URL": db_url, "SECRET_KEY": "k"})
    cookie = production.test_client().get("/api/csrf").headers["Set-Cookie"]
    assert "Secure" in cookie and "HttpOnly" in cookie


def test_500_leaks_no_stack_trace(app):
    @app.get("/api/boom")
    def boom():  # pragma: no cover - body raises
        raise RuntimeError("secret internal detail")

    @app.get("/boom-page")
    def boom_page():  # pragma: no cover - body raises
        raise RuntimeError("secret internal detail")

    client = app.test_client()
    api = client.get("/api/boom")
    assert api.status_code == 500 and api.get_json()["error"] == "internal_error"
    page = client.get("/boom-page")
    assert page.status_code == 500
    for body in (api.get_data(as_text=True), page.get_data(as_text=True)):
        assert "Traceback" not in body and "secret internal detail" not in body
        assert "RuntimeError" not in body


def test_404_is_json_under_api_and_html_elsewhere(app):
    client = app.test_client()
    api = client.get("/api/nothing-here")
    assert api.status_code == 404 and api.get_json()["error"] == "not_found"
    page = client.get("/nothing-here")
    assert page.status_code == 404 and page.mimetype == "text/html"


def test_malformed_platform_ids_are_refused(app):
    response = app.test_client().get("/study/sample/?PROLIFIC_PID=<script>alert(1)</script>")
    assert response.status_code == 400
    assert b"<script>alert" not in response.data


def test_secret_key_is_created_once_and_kept(tmp_path):
    from xai_eval.web.app import persistent_secret

    first = persistent_secret(tmp_path / "instance")
    assert len(first) == 64
    assert persistent_secret(tmp_path / "instance") == first
    assert oct((tmp_path / "instance" / "secret_key").stat().st_mode & 0o777) == "0o600"
