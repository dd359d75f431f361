"""The application factory (flaskr style): config, database, security, blueprints.

Configuration comes, in order, from the defaults below, ``XAI_EVAL_*`` environment
variables (``XAI_EVAL_DATABASE_URL``, ``XAI_EVAL_SECRET_KEY``, ...) and ``test_config``.
The secret key signs the session cookie that carries the participant token and the CSRF
secret; when none is configured a random one is created once and kept in the instance
folder, so a restarted server still recognises its participants.
"""

from __future__ import annotations

import os
import secrets
from datetime import timedelta
from pathlib import Path
from typing import Any

from flask import Flask, redirect, url_for
from werkzeug.wrappers import Response

from xai_eval.db.base import database_url


def create_app(test_config: dict[str, Any] | None = None) -> Flask:
    """Build the study web app; ``test_config`` overrides everything (tests use it)."""
    app = Flask(__name__, instance_relative_config=True)
    app.config.from_mapping(
        DATABASE_URL=None,
        SECRET_KEY=None,
        SESSION_COOKIE_SECURE=None,  # decided in security.init_app from debug/testing
        SESSION_COOKIE_NAME="xai_eval_session",
        PERMANENT_SESSION_LIFETIME=timedelta(days=14),
        MAX_CONTENT_LENGTH=16 * 1024,
        DB_POOL_SIZE=10,
        DB_MAX_OVERFLOW=20,
    )
    if test_config is None:
        app.config.from_prefixed_env("XAI_EVAL")
    else:
        app.config.update(test_config)
    app.config["DATABASE_URL"] = database_url(app.config.get("DATABASE_URL"))
    if not app.config.get("SECRET_KEY"):
        app.config["SECRET_KEY"] = _persistent_secret(Path(app.instance_path))

    from xai_eval.web import database, security, study_errors

    database.init_app(app)
    security.init_app(app)
    study_errors.init_app(app)

    from xai_eval.web import admin, api, participant

    app.register_blueprint(participant.bp)
    app.register_blueprint(api.bp)
    app.register_blueprint(admin.bp)

    @app.get("/")
    def index() -> Response:
        return redirect(url_for("participant.home"))

    return app


def _persistent_secret(folder: Path) -> str:
    """Read the instance secret key, creating it (mode 0600) on first start."""
    path = folder / "secret_key"
    if path.exists():
        return path.read_text().strip()
    folder.mkdir(parents=True, exist_ok=True)
    key = secrets.token_hex(32)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:  # another process created it first: use theirs
        return path.read_text().strip()
    with os.fdopen(fd, "w") as handle:
        handle.write(key)
    return key
