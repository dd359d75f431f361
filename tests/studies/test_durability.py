"""Nothing half-written: dropped connections, a locked SQLite file, racing double submits."""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
import sqlalchemy as sa
from sqlalchemy import event, func, select
from sqlalchemy.exc import OperationalError
from sqlalchemy.pool import StaticPool

from xai_eval.db.base import make_engine, session_factory
from xai_eval.db.studies import Participant, Response
from xai_eval.studies import participant_service as service
from xai_eval.studies import transactions
from xai_eval.studies.errors import DatabaseBusyError
from xai_eval.studies.platform import PlatformVisit


def _start(factory, slug):
    with factory() as s:
        return service.start_or_resume(s, service.get_study(s, slug), PlatformVisit())


def _answer_until_last(factory, token):
    """Answer every trial but the last; return the last trial's view."""
    while True:
        with factory() as s:
            view = service.next_trial(s, token)
            if view.index == view.total - 1:
                return view
            service.submit_answer(s, token, view.trial_id, view.options[0].value, 800)


def _responses(factory):
    with factory() as s:
        return s.scalar(select(func.count()).select_from(Response))


def _drop_after_flush(session, times):
    """Make the next ``times`` transactions fail *after* their rows reached the server."""
    state = {"left": times}

    @event.listens_for(session, "after_flush")
    def drop(sess, _ctx):
        if state["left"] > 0:
            state["left"] -= 1
            raise OperationalError("COMMIT", {}, Exception("server closed the connection"))

    return state


def test_dropped_connection_mid_submit_leaves_nothing(study_db, monkeypatch):
    monkeypatch.setattr(transactions, "BASE_DELAY_S", 0.001)
    factory, slug = study_db
    started = _start(factory, slug)
    last = _answer_until_last(factory, started.token)
    before = _responses(factory)
    with factory() as s:
        _drop_after_flush(s, times=transactions.ATTEMPTS)
        with pytest.raises(DatabaseBusyError, match="nothing was saved"):
            service.submit_answer(s, started.token, last.trial_id, last.options[0].value, 700)
    # neither the answer nor the completion (status, code) was written
    assert _responses(factory) == before
    with factory() as s:
        p = s.get(Participant, started.participant_id)
        assert p.status == "started" and p.completion_code is None
    # the participant resumes on the same trial and the retry stores exactly one answer
    with factory() as s:
        assert service.next_trial(s, started.token).trial_id == last.trial_id
        outcome = service.submit_answer(s, started.token, last.trial_id,
                                        last.options[0].value, 700)
    assert outcome.stored and outcome.finished and _responses(factory) == before + 1


def test_transient_failure_is_retried_once_and_stored_once(study_db, monkeypatch):
    monkeypatch.setattr(transactions, "BASE_DELAY_S", 0.001)
    factory, slug = study_db
    started = _start(factory, slug)
    with factory() as s:
        view = service.next_trial(s, started.token)
        state = _drop_after_flush(s, times=1)
        outcome = service.submit_answer(s, started.token, view.trial_id,
                                        view.options[0].value, 700)
    assert state["left"] == 0 and outcome.stored and _responses(factory) == 1


def test_real_connection_kill_on_postgresql(pg_url, build_fake, monkeypatch):
    """pg_terminate_backend between the INSERT and the COMMIT: retried, one row."""
    monkeypatch.setattr(transactions, "BASE_DELAY_S", 0.001)
    build_fake(pg_url)
    engine = make_engine(pg_url)
    factory = session_factory(engine)
    started = _start(factory, "test_class_discrimination")
    killer = make_engine(pg_url)
    try:
        with factory() as s:
            view = service.next_trial(s, started.token)
            done = {"killed": False}

            @event.listens_for(s, "after_flush")
            def kill(sess, _ctx):
                if not done["killed"]:
                    done["killed"] = True
                    pid = sess.execute(sa.text("select pg_backend_pid()")).scalar()
                    with killer.connect() as conn:
                        conn.execute(sa.text("select pg_terminate_backend(:p)"), {"p": pid})

            outcome = service.submit_answer(s, started.token, view.trial_id,
                                            view.options[0].value, 650)
        assert done["killed"] and outcome.stored
        assert _responses(factory) == 1
    finally:
        killer.dispose()
        engine.dispose()


def test_locked_sqlite_is_waited_for_and_retried(sqlite_url, build_fake, monkeypatch):
    """A writer holds the SQLite lock; our connection's busy timeout is tiny, so the first
    attempts fail with a real 'database is locked' and the retry stores the answer."""
    monkeypatch.setattr(transactions, "BASE_DELAY_S", 0.1)
    build_fake(sqlite_url)
    engine = make_engine(sqlite_url, poolclass=StaticPool)
    with engine.connect() as conn:
        conn.exec_driver_sql("PRAGMA busy_timeout=20")
    factory = session_factory(engine)
    started = _start(factory, "test_class_discrimination")
    with factory() as s:
        view = service.next_trial(s, started.token)
    holder = make_engine(sqlite_url)
    locked, release = threading.Event(), threading.Event()

    def hold():
        with holder.connect() as conn:
            conn.exec_driver_sql("BEGIN IMMEDIATE")
            locked.set()
            release.wait(5)
            conn.exec_driver_sql("ROLLBACK")

    thread = threading.Thread(target=hold)
    thread.start()
    locked.wait(5)
    timer = threading.Timer(0.4, release.set)
    timer.start()
    errors = []

    def count_errors(*_args):
        errors.append(1)

    event.listen(engine, "handle_error", count_errors)
    try:
        t0 = time.monotonic()
        with factory() as s:
            outcome = service.submit_answer(s, started.token, view.trial_id,
                                            view.options[0].value, 500)
        assert outcome.stored and time.monotonic() - t0 >= 0.3
        assert errors, "the lock never surfaced as an error; the test did not test retry"
    finally:
        release.set()
        thread.join()
        timer.cancel()
        holder.dispose()
        engine.dispose()
    assert _responses(factory) == 1


def test_lock_that_never_clears_gives_a_clear_error(study_db, monkeypatch):
    monkeypatch.setattr(transactions, "BASE_DELAY_S", 0.001)
    factory, slug = study_db
    started = _start(factory, slug)
    with factory() as s:
        view = service.next_trial(s, started.token)

        def locked(*_a, **_k):
            raise OperationalError("INSERT", {}, Exception("database is locked"))

        monkeypatch.setattr(s, "commit", locked)
        with pytest.raises(DatabaseBusyError, match="database is locked"):
            service.submit_answer(s, started.token, view.trial_id, view.options[0].value, 500)
    assert _responses(factory) == 0


def test_racing_double_submits_store_one_answer(study_db):
    factory, slug = study_db
    started = _start(factory, slug)
    with factory() as s:
        view = service.next_trial(s, started.token)
    barrier = threading.Barrier(4)

    def submit(answer):
        barrier.wait()
        with factory() as s:
            return service.submit_answer(s, started.token, view.trial_id, answer, 600)

    with ThreadPoolExecutor(4) as pool:
        outcomes = list(pool.map(submit, [o.value for o in view.options] * 2))
    assert sum(o.stored for o in outcomes) == 1
    assert _responses(factory) == 1
