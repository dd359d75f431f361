"""``GET /healthz``: can this server store answers right now?

For a load balancer, a monitoring probe or a researcher's curl: 200 ``{"status": "ok"}``
when the database answers and (SQLite) the file is still the one the server opened; else
503 with what is wrong (the database unreachable, the file deleted or replaced), the same
condition under which every write is refused (:mod:`xai_eval.db.storage`). The answer
names no tables, counts or versions.

Every state-changing request (POST, PUT, PATCH, DELETE) is refused with the same 503
before it runs while the file is lost (:func:`refuse_writes_to_lost_storage`), admin
actions included, so nothing is acknowledged from a file that will not survive a restart.
"""

from __future__ import annotations

from flask import Flask, Response, jsonify, request
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError

from xai_eval.db.storage import storage_problem
from xai_eval.web.database import binding, get_session
from xai_eval.web.security import error_response

_READS = {"GET", "HEAD", "OPTIONS"}


def healthz() -> tuple[Response, int]:
    problem = storage_problem(binding().engine)
    if problem is None:
        try:
            get_session().execute(text("SELECT 1"))
        except SQLAlchemyError:
            problem = "the database does not answer"
    if problem:
        return jsonify(status="unavailable", problem=problem), 503
    return jsonify(status="ok"), 200


def refuse_writes_to_lost_storage():  # type: ignore[no-untyped-def]
    if request.method in _READS:
        return None
    problem = storage_problem(binding().engine)
    if problem:
        return error_response(503, "storage_error", f"{problem}; nothing was saved. Please "
                              "try again later.")
    return None


def init_app(app: Flask) -> None:
    app.add_url_rule("/healthz", "healthz", healthz, methods=["GET"])
    app.before_request(refuse_writes_to_lost_storage)
