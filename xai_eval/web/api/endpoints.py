"""The JSON API under ``/api`` (documented in ``static/openapi.yaml``, served at
/api/openapi.yaml; the prose guide is ``docs/api.md``).

Every endpoint acts for the participant whose token is in this browser's session cookie,
never for an id the client names: a trial id of another participant is answered 404, like
an unknown one. State-changing calls need the CSRF token in the ``X-CSRFToken`` header.
The participant service commits before it returns, so a 2xx answer means the answer is stored.
"""

from __future__ import annotations

from importlib import resources
from typing import Any

from flask import Blueprint, Response, abort, current_app, jsonify, make_response, request
from flask_wtf.csrf import generate_csrf

from xai_eval.studies import participant_service as service
from xai_eval.studies.errors import InvalidAnswerError, PlatformParameterError
from xai_eval.web import participant_session
from xai_eval.web.database import get_session, write_lock

bp = Blueprint("api", __name__, url_prefix="/api")
#: Keys an answer body may contain; anything else is a client bug, refused loudly.
ANSWER_KEYS = {"trial_id", "answer", "rt_ms"}
MAX_POSITION_CHARS = 16


def _json_body() -> dict[str, Any]:
    if not request.is_json:
        raise InvalidAnswerError("send a JSON object with Content-Type: application/json")
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        raise InvalidAnswerError("the request body must be a JSON object")
    return body


@bp.get("/csrf")
def csrf_token() -> Response:
    """The CSRF token for the ``X-CSRFToken`` header (also sets the session cookie)."""
    return jsonify(csrf_token=generate_csrf())


@bp.get("/openapi.yaml")
def openapi() -> Response:
    text = resources.files("xai_eval.web").joinpath("static", "openapi.yaml").read_text()
    return Response(text, mimetype="application/yaml")


@bp.post("/studies/<slug>/sessions")
def create_session(slug: str) -> tuple[Response, int]:
    """Start (201) or resume (200) this browser's participant session for ``slug``."""
    body = request.get_json(silent=True) if request.data else {}
    if not isinstance(body, dict):
        abort(422, description="the body must be a JSON object of platform parameters")
    params = {k: v for k, v in {**request.args.to_dict(), **body}.items() if isinstance(v, str)}
    try:
        visit = service.parse_visit(params)
    except PlatformParameterError as exc:
        abort(400, description=str(exc))
    started = participant_session.enrol(slug, visit, clear_extras=True)
    status = 200 if started.resumed else 201
    return jsonify(resumed=started.resumed, status=started.status,
                   next="/api/sessions/current/trial"), status


@bp.get("/sessions/current/trial")
def current_trial() -> Response:
    """The next unanswered trial (the same one until it is answered) or ``{"done": true}``."""
    step = service.next_trial(get_session(), participant_session.current_token())
    data = step.as_dict()
    if not data["done"]:
        trial_id = data["trial_id"]
        for stimulus in data["stimuli"]:
            stimulus["url"] = (f"/api/sessions/current/trials/{trial_id}/stimuli/"
                               f"{stimulus['position']}")
    return jsonify(data)


@bp.post("/sessions/current/answers")
def submit_answer() -> tuple[Response, int]:
    """Store one answer; 201 when stored, 200 when the trial was already answered."""
    body = _json_body()
    unknown = set(body) - ANSWER_KEYS
    missing = {"trial_id", "answer", "rt_ms"} - set(body)
    if unknown or missing:
        raise InvalidAnswerError(
            f"an answer has exactly the keys trial_id, answer, rt_ms"
            f"{'; unknown: ' + ', '.join(sorted(unknown)) if unknown else ''}"
            f"{'; missing: ' + ', '.join(sorted(missing)) if missing else ''}")
    with write_lock():
        outcome = service.submit_answer(get_session(), participant_session.current_token(),
                                        body["trial_id"], body["answer"], body["rt_ms"])
    data = outcome.as_dict()
    data["feedback"] = ({"text": outcome.feedback, "correct": outcome.correct}
                        if outcome.feedback is not None else None)
    return jsonify(data), 201 if outcome.stored else 200


@bp.get("/sessions/current/trials/<trial_id>/stimuli/<position>")
def stimulus(trial_id: str, position: str) -> Response:
    """A picture of one of this participant's own trials."""
    if len(position) > MAX_POSITION_CHARS:
        abort(404)
    picture = service.trial_stimulus(get_session(), participant_session.current_token(),
                                     trial_id, position, instance_dir=current_app.instance_path)
    response = make_response(picture.data)
    response.mimetype = picture.mime
    response.headers["Cache-Control"] = "private, max-age=3600"
    return response
