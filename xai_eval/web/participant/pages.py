"""The participant's pages: consent -> instructions/practice/trials (one page) -> debrief.

Pages are rendered on the server; the trial loop is ``static/study.js``, which asks the API
for the next trial every time, so the server alone decides where a participant is. The
consent form is an ordinary CSRF-protected POST that starts (or resumes) the participant
and stores the token in the session cookie. MTurk previews show the task without a start
button; Prolific participants are sent back with their completion code; MTurk workers
POST the assignment to ``turkSubmitTo`` (validated to be MTurk) from the debrief page.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from flask import Blueprint, abort, redirect, render_template, request, url_for
from werkzeug.wrappers import Response

from xai_eval.studies import participant_service as service
from xai_eval.studies.errors import PlatformParameterError
from xai_eval.web import participant_session
from xai_eval.web.database import get_session

bp = Blueprint("participant", __name__)


def _visit(args: Mapping[str, Any]) -> service.PlatformVisit:
    """The platform visit of a query string or form, or a 400 page saying what is wrong."""
    try:
        return service.parse_visit(args)
    except PlatformParameterError as exc:
        abort(400, description=str(exc))


def _resumable(slug: str) -> bool:
    """True when this browser already holds a valid token for ``slug``."""
    return service.token_is_valid(get_session(), participant_session.token_for(slug))


@bp.get("/studies/")
def home() -> str:
    return render_template("participant/home.html", study=None,
                           studies=service.open_studies(get_session()))


@bp.get("/study/<slug>/")
def landing(slug: str) -> Response | str:
    """Consent page; a returning browser goes straight back to its trials."""
    study = service.get_study(get_session(), slug)
    visit = _visit(request.args)
    if not visit.is_preview and _resumable(slug):
        return redirect(url_for("participant.run", slug=slug))
    return render_template("participant/consent.html", study=study, visit=visit,
                           **service.study_texts(study))


@bp.post("/study/<slug>/start")
def start(slug: str) -> Response:
    """Consent given: start or resume, keep the token in the cookie, go to the trials."""
    if request.form.get("consent") != "yes":
        abort(400, description="please tick the consent box to take part")
    participant_session.enrol(slug, _visit(request.form), clear_extras=False)
    return redirect(url_for("participant.run", slug=slug))


@bp.get("/study/<slug>/run")
def run(slug: str) -> Response | str:
    study = service.get_study(get_session(), slug)
    token = participant_session.token_for(slug)
    if token is None:
        return redirect(url_for("participant.landing", slug=slug))
    participant_session.remember(slug, token)  # make it the current study of this browser
    step = service.next_trial(get_session(), token)
    if isinstance(step, service.Finished):
        return redirect(url_for("participant.debrief", slug=slug))
    return render_template("participant/run.html", study=study, show_instructions=step.index == 0,
                           **service.study_texts(study))


@bp.get("/study/<slug>/done")
def debrief(slug: str) -> Response | str:
    study = service.get_study(get_session(), slug)
    token = participant_session.token_for(slug)
    if token is None:
        return redirect(url_for("participant.landing", slug=slug))
    step = service.next_trial(get_session(), token)
    if not isinstance(step, service.Finished):
        return redirect(url_for("participant.run", slug=slug))
    extra = participant_session.extra_for(slug)
    return render_template(
        "participant/debrief.html", study=study, completion_code=step.completion_code,
        prolific_url=step.redirect_url, mturk_submit_url=extra.get("submit_url") or None,
        mturk_assignment=extra.get("assignmentId", ""), **service.study_texts(study))
