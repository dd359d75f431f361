"""Glue between the study service and HTTP: its errors become statuses, our visit its ids.

Each :class:`~xai_eval.studies.errors.StudyError` carries the HTTP status to answer with and
a message safe to show; the API answers JSON ``{"error": <snake_case class>, "message"}``,
pages show the message. The platform-id key for the keyed hashes is ``ID_KEY`` from the
config (``XAI_EVAL_ID_KEY``), else one derived from the app's secret key, so raw worker ids
cannot be recovered from the database alone.
"""

from __future__ import annotations

import hashlib
import re

from flask import Flask, current_app, render_template

from xai_eval.studies.errors import StudyError
from xai_eval.studies.platform import PlatformIds
from xai_eval.web.platforms import PlatformVisit
from xai_eval.web.security import error_response, wants_json


def snake_case(name: str) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", "_", name.removesuffix("Error")).lower()


def id_key() -> bytes:
    configured = current_app.config.get("ID_KEY")
    if configured:
        return str(configured).encode()
    return hashlib.sha256(b"xai-eval-platform-ids:" + str(current_app.secret_key).encode()).digest()


def study_platform_ids(visit: PlatformVisit) -> PlatformIds:
    return PlatformIds(visit.platform, dict(visit.ids))


def _study_error(exc: StudyError):  # type: ignore[no-untyped-def]
    status = int(getattr(exc, "status", 400))
    if wants_json():
        return error_response(status, snake_case(type(exc).__name__), str(exc))
    return render_template("participant/message.html", study=None, heading="Sorry",
                           message=str(exc)), status


def init_app(app: Flask) -> None:
    app.register_error_handler(StudyError, _study_error)
