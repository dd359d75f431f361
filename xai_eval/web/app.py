"""The application factory (flaskr style): config, database, security, blueprints.

Configuration comes, in order, from the defaults below, ``XAI_EVAL_*`` environment
variables (``XAI_EVAL_DATABASE_URL``, ``XAI_EVAL_SECRET_KEY``, ``XAI_EVAL_ID_KEY``, ...)
and ``test_config``. The secret key signs the session cookie that carries the participant
token and the CSRF secret; when none is configured a random one is created once and kept
in the instance folder (outside the source tree: :mod:`xai_eval.web.instance`), so a
restarted server still recognises its participants.
:func:`server_config` resolves the same configuration without building the app, for the
commands that must agree with a running server (the platform-id key).

Blueprints, one per audience: :mod:`xai_eval.web.participant` (pages),
:mod:`xai_eval.web.api` (JSON) and :mod:`xai_eval.web.admin`; they import the study
services (:mod:`xai_eval.studies.participant_service`, :mod:`xai_eval.studies.admin_service`)
and this package's shared modules, never each other.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Mapping
from datetime import timedelta
from pathlib import Path
from typing import Any

from flask import Config, Flask, redirect, url_for
from werkzeug.wrappers import Response

from xai_eval.db.base import database_url
from xai_eval.web.instance import SECRET_FILE, adopt_legacy_secret, instance_dir

DEFAULTS: dict[str, Any] = {
    "DATABASE_URL": None,
    "SECRET_KEY": None,
    "ID_KEY": None,  # key of the platform-id hashes; derived from SECRET_KEY when unset
    "INSTANCE_DIR": None,  # where the generated secret key lives (web/instance.py)
    "SESSION_COOKIE_SECURE": None,  # decided in security.init_app from debug/testing
    "SESSION_COOKIE_NAME": "xai_eval_session",
    "PERMANENT_SESSION_LIFETIME": timedelta(days=14),
    "MAX_CONTENT_LENGTH": 16 * 1024,
    "DB_POOL_SIZE": 10,
    "DB_MAX_OVERFLOW": 20,
    "ADMIN_IDLE_MINUTES": 30,  # an admin session unused this long is over
    "ADMIN_SESSION_HOURS": 12,  # and any admin session this old
    # new participants one client address may start per window (0: no limit); raise it
    # when many participants share one address (a lab, a carrier-grade NAT)
    "ENROL_LIMIT_PER_CLIENT": 20,
    "ENROL_WINDOW_MINUTES": 10,
}
#: Prefix of the environment variables the app reads (``XAI_EVAL_SECRET_KEY``, ...).
ENV_PREFIX = "XAI_EVAL"


def create_app(test_config: dict[str, Any] | None = None) -> Flask:
    """Build the study web app; ``test_config`` overrides everything (tests use it)."""
    app = Flask(__name__, instance_relative_config=True)
    _configure(app, test_config)

    from xai_eval.web import database, health, security, study_errors

    database.init_app(app)
    security.init_app(app)
    study_errors.init_app(app)
    health.init_app(app)

    from xai_eval.web import admin, api, participant

    app.register_blueprint(participant.bp)
    app.register_blueprint(api.bp)
    app.register_blueprint(admin.bp)

    from xai_eval.web import clients, login_gate

    gate = login_gate.LoginGate()
    app.extensions["xai_eval_login_gate"] = gate
    app.wsgi_app = login_gate.middleware(  # type: ignore[method-assign]
        app.wsgi_app, gate, clients.environ_client_key(app.config))

    @app.get("/")
    def index() -> Response:
        return redirect(url_for("participant.home"))

    return app


def _configure(app: Flask, test_config: Mapping[str, Any] | None,
               create_secret: bool = True) -> None:
    """Defaults, then the environment (or ``test_config`` instead), the database URL and
    the secret key (``create_secret``: make the instance secret if there is none yet)."""
    app.config.from_mapping(DEFAULTS)
    if test_config is None:
        app.config.from_prefixed_env(ENV_PREFIX)
    else:
        app.config.update(test_config)
    app.config["DATABASE_URL"] = database_url(app.config.get("DATABASE_URL"))
    folder = instance_dir(app.config)
    legacy = Path(app.instance_path)  # Flask's default: instance/ beside the package
    app.instance_path = str(folder)
    if not app.config.get("SECRET_KEY"):
        adopt_legacy_secret(folder, legacy)
        if create_secret:
            app.config["SECRET_KEY"] = persistent_secret(folder)
        elif (folder / SECRET_FILE).exists():
            app.config["SECRET_KEY"] = (folder / SECRET_FILE).read_text().strip()


def server_config(overrides: Mapping[str, Any] | None = None) -> Config:
    """The configuration ``xai-eval serve`` would run with: defaults, ``XAI_EVAL_*`` from
    the environment, ``overrides``, and the secret key (from the environment, else the
    instance folder's; none is created here). Builds no app and opens no database."""
    app = Flask(__name__, instance_relative_config=True)  # the same instance folder
    settings = env_config()
    settings.update(overrides or {})
    _configure(app, settings, create_secret=False)
    return app.config


def env_config() -> dict[str, Any]:
    """``XAI_EVAL_*`` settings from the environment (as ``create_app()`` reads them)."""
    config = Config("")
    config.from_prefixed_env(ENV_PREFIX)
    return dict(config)


def persistent_secret(folder: Path) -> str:
    """Read the instance secret key, creating it (mode 0600) on first start."""
    path = folder / SECRET_FILE
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
