"""The study services' errors as HTTP answers.

Each :class:`~xai_eval.studies.errors.StudyError` carries the HTTP status to answer with and
a message safe to show; the API answers JSON ``{"error": <snake_case class>, "message"}``,
pages show the message.
"""

from __future__ import annotations

import re

from flask import Flask, render_template

from xai_eval.studies.errors import StudyError
from xai_eval.web.security import error_response, wants_json


def snake_case(name: str) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", "_", name.removesuffix("Error")).lower()


def _study_error(exc: StudyError):  # type: ignore[no-untyped-def]
    status = int(getattr(exc, "status", 400))
    if wants_json():
        body, status = error_response(status, snake_case(type(exc).__name__), str(exc))
    else:
        body = render_template("participant/message.html", study=None, heading="Sorry",
                               message=str(exc))
    headers = {}
    retry_after = getattr(exc, "retry_after", None)
    if retry_after:  # ThrottledError: the client is told when to come back, at once
        headers["Retry-After"] = str(int(retry_after))
    return body, status, headers


def init_app(app: Flask) -> None:
    app.register_error_handler(StudyError, _study_error)
