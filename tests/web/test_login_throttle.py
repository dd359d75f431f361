"""Login throttling (issue 8): counters in the database, 429 + Retry-After at once, no sleeps,
the same hash cost for unknown names, every lockout audited."""

from __future__ import annotations

import threading
from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import select, update

from tests.web.conftest import ADMIN_PASSWORD, ADMIN_USER
from xai_eval.db.base import make_engine, session_factory
from xai_eval.db.studies import AuditLog, RateLimit
from xai_eval.studies import accounts, login, throttle
from xai_eval.web.app import create_app


@pytest.fixture
def hashes(monkeypatch):
    """Count password-hash checks; wrong passwords fail without the real (slow) hash."""
    calls: list[str] = []
    real = accounts.check_password_hash

    def counting(stored: str, password: str) -> bool:
        calls.append(password)
        return real(stored, password) if password == ADMIN_PASSWORD else False

    monkeypatch.setattr(accounts, "check_password_hash", counting)
    return calls


@pytest.fixture(autouse=True)
def no_sleeping(monkeypatch):
    """A worker thread is never put to sleep by a login."""
    import time

    def refuse(seconds: float) -> None:
        raise AssertionError(f"a login slept {seconds} s in a server thread")

    monkeypatch.setattr(time, "sleep", refuse)


def post_login(client, username=ADMIN_USER, password="wrong password", addr="10.0.0.1"):
    token = client.get("/api/csrf").get_json()["csrf_token"]
    return client.post("/admin/login", data={"username": username, "password": password,
                                              "csrf_token": token},
                       environ_base={"REMOTE_ADDR": addr})


def audit(db_url: str, action: str) -> list[AuditLog]:
    engine = make_engine(db_url)
    try:
        with session_factory(engine)() as s:
            return list(s.scalars(select(AuditLog).where(AuditLog.action == action)))
    finally:
        engine.dispose()


def expire_blocks(db_url: str) -> None:
    engine = make_engine(db_url)
    try:
        with session_factory(engine)() as s:
            s.execute(update(RateLimit).values(
                blocked_until=datetime.now(timezone.utc) - timedelta(seconds=1)))
            s.commit()
    finally:
        engine.dispose()


def test_backoff_doubles_and_is_capped():
    policy = throttle.Policy(threshold=5, window_s=900, base_s=1, max_s=900)
    assert [policy.block_seconds(n) for n in range(1, 9)] == [0, 0, 0, 0, 1, 2, 4, 8]
    assert policy.block_seconds(100) == 900


def test_account_is_blocked_with_429_even_for_the_right_password(app, db_url, hashes):
    client = app.test_client()
    for _ in range(throttle.ACCOUNT_POLICY.threshold):
        assert post_login(client).status_code == 401
    checked = len(hashes)
    refused = post_login(client, password=ADMIN_PASSWORD)
    assert refused.status_code == 429
    assert 1 <= int(refused.headers["Retry-After"]) <= 1
    assert b"too many failed logins" in refused.data
    assert len(hashes) == checked, "a blocked login must not cost a password hash"
    lockouts = audit(db_url, "admin_login_lockout")
    assert [(r.details["scope"], r.details["seconds"]) for r in lockouts] == [
        ("login_account", 1)]
    # the block ends; the next wrong password doubles it, and is audited again
    expire_blocks(db_url)
    assert post_login(client).status_code == 401
    assert int(post_login(client).headers["Retry-After"]) == 2
    assert [r.details["seconds"] for r in audit(db_url, "admin_login_lockout")] == [1, 2]
    expire_blocks(db_url)
    assert post_login(client, password=ADMIN_PASSWORD).status_code == 302
    # a success clears the account's counter: the next failure is not blocked
    assert post_login(app.test_client()).status_code == 401


def test_client_is_blocked_whatever_names_it_tries(app, db_url, hashes):
    client = app.test_client()
    for n in range(throttle.CLIENT_POLICY.threshold):
        assert post_login(client, username=f"guess{n}").status_code == 401
    assert post_login(client, password=ADMIN_PASSWORD).status_code == 429
    # another address is not blocked (the account has no failures)
    assert post_login(client, password=ADMIN_PASSWORD, addr="10.0.0.2").status_code == 302
    scopes = {r.details["scope"] for r in audit(db_url, "admin_login_lockout")}
    assert scopes == {"login_client"}


def test_unknown_names_cost_one_hash_like_known_ones(app, hashes):
    client = app.test_client()
    post_login(client, username="nobody-here")
    post_login(client)
    assert len(hashes) == 2


def test_counters_hold_across_server_processes(app, db_url, hashes):
    """Two apps on one database (two server processes) share the counters."""
    second = create_app({"DATABASE_URL": db_url, "SECRET_KEY": "test-secret", "TESTING": True})
    try:
        for _ in range(3):
            assert post_login(app.test_client()).status_code == 401
        for _ in range(2):
            assert post_login(second.test_client()).status_code == 401
        assert post_login(app.test_client()).status_code == 429
        assert post_login(second.test_client()).status_code == 429
    finally:
        from xai_eval.web.database import binding

        binding(second).engine.dispose()


def test_busy_hash_slots_answer_at_once(app, hashes):
    for _ in range(login.HASH_SLOTS):
        assert login._hash_slots.acquire(blocking=False)
    try:
        refused = post_login(app.test_client(), password=ADMIN_PASSWORD)
        assert refused.status_code == 429 and refused.headers["Retry-After"] == "1"
        assert not hashes
    finally:
        for _ in range(login.HASH_SLOTS):
            login._hash_slots.release()


def test_concurrent_failures_are_all_counted(app, db_url):
    engine = make_engine(db_url)
    factory = session_factory(engine)
    policy = throttle.Policy(threshold=1000, window_s=900)
    errors: list[BaseException] = []

    def fail() -> None:
        try:
            with factory() as s:
                throttle.record_event(s, throttle.LOGIN_CLIENT, "10.9.9.9", policy)
                s.commit()
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=fail) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    with factory() as s:
        count = s.scalar(select(RateLimit.count).where(
            RateLimit.key_hash == throttle.key_hash("10.9.9.9")))
    engine.dispose()
    assert not errors and count == 8


def test_password_reset_clears_the_block(app, db_url, hashes):
    client = app.test_client()
    for _ in range(throttle.ACCOUNT_POLICY.threshold):
        post_login(client)
    assert post_login(client, password=ADMIN_PASSWORD).status_code == 429
    engine = make_engine(db_url)
    with session_factory(engine)() as s:
        accounts.create_admin(s, ADMIN_USER, ADMIN_PASSWORD)
    engine.dispose()
    assert post_login(client, password=ADMIN_PASSWORD).status_code == 302


def test_a_blocked_client_is_refused_before_the_app_runs(app, hashes, monkeypatch):
    """Once the database has refused a client, its next logins get 429 from the WSGI gate
    without a session, a CSRF check or a query (what keeps a flood cheap)."""
    client = app.test_client()
    for n in range(throttle.CLIENT_POLICY.threshold):
        post_login(client, username=f"guess{n}")
    assert post_login(client).status_code == 429  # the app refuses and tells the gate
    from xai_eval.studies import login as login_module

    def no_app(*args, **kwargs):
        raise AssertionError("the gate should have answered")

    monkeypatch.setattr(login_module.throttle, "blocked_for", no_app)
    token = client.get("/api/csrf").get_json()["csrf_token"]
    gated = client.post("/admin/login", data={"username": "x", "password": "y",
                                              "csrf_token": token},
                        environ_base={"REMOTE_ADDR": "10.0.0.1"})
    assert gated.status_code == 429 and int(gated.headers["Retry-After"]) >= 1
    assert gated.headers["X-Frame-Options"] == "DENY"
    # another address still reaches the app (and its database check, which fails here)
    assert post_login(app.test_client(), addr="10.0.0.9").status_code == 500
