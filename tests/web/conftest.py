"""Fixtures of the web tests: an app on a migrated database with a small sample study.

``db_url`` (tests/conftest.py) runs every test on SQLite and PostgreSQL. ``Participant`` is a
tiny API client around Flask's test client that keeps its own cookie jar and CSRF token,
as a browser tab would.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from xai_eval.db.base import make_engine, session_factory
from xai_eval.db.migrate import upgrade
from xai_eval.testing import create_sample_study
from xai_eval.web.app import create_app

ADMIN_USER = "researcher"
ADMIN_PASSWORD = "correct horse battery"


def migrated(db_url: str, **study_options: Any) -> None:
    upgrade(db_url)
    engine = make_engine(db_url)
    try:
        with session_factory(engine)() as session:
            create_sample_study(session, **study_options)
            from xai_eval.studies.admin_service import create_admin

            create_admin(session, ADMIN_USER, ADMIN_PASSWORD)
    finally:
        engine.dispose()


@pytest.fixture
def app(db_url: str, tmp_path) -> Iterator[Flask]:
    migrated(db_url, slug="sample", images=6, trials=4, practice=1, attention=1,
             min_median_rt_ms=0)
    application = create_app({"DATABASE_URL": db_url, "SECRET_KEY": "test-secret",
                              "TESTING": True, "PROPAGATE_EXCEPTIONS": False})
    application.instance_path = str(tmp_path)
    yield application
    from xai_eval.web.database import binding

    binding(application).engine.dispose()


class Participant:
    """One browser: its own cookies, CSRF token and the API calls of the trial loop."""

    def __init__(self, app: Flask) -> None:
        self.client: FlaskClient = app.test_client()
        self.csrf = self.client.get("/api/csrf").get_json()["csrf_token"]

    def post(self, path: str, json: Any = None, **kwargs: Any) -> Any:
        headers = {"X-CSRFToken": self.csrf, **kwargs.pop("headers", {})}
        return self.client.post(path, json=json, headers=headers, **kwargs)

    def start(self, slug: str = "sample", **platform: str) -> Any:
        return self.post(f"/api/studies/{slug}/sessions", json=platform)

    def trial(self) -> dict[str, Any]:
        response = self.client.get("/api/sessions/current/trial")
        assert response.status_code == 200, response.get_data(as_text=True)
        return response.get_json()

    def answer(self, trial_id: str, answer: Any, rt_ms: int = 900) -> Any:
        return self.post("/api/sessions/current/answers",
                         json={"trial_id": trial_id, "answer": answer, "rt_ms": rt_ms})


@pytest.fixture
def participant(app: Flask) -> Participant:
    return Participant(app)


@pytest.fixture
def other(app: Flask) -> Participant:
    return Participant(app)
