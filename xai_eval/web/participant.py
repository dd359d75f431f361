"""The participant's pages: consent -> instructions/practice/trials (one page) -> debrief.

Pages are rendered on the server; the trial loop is ``static/study.js``, which asks the API
for the next trial every time, so the server alone decides where a participant is. The
consent form is an ordinary CSRF-protected POST that starts (or resumes) the participant
and stores the token in the session cookie. MTurk previews show the task without a start
button; Prolific participants are sent back with their completion code; MTurk workers
POST the assignment to ``turkSubmitTo`` (validated to be MTurk) from the debrief page.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, abort, redirect, render_template, request, url_for
from werkzeug.wrappers import Response

from xai_eval.db.studies import Study
from xai_eval.studies import service
from xai_eval.studies.errors import InvalidTokenError
from xai_eval.web import participant_session
from xai_eval.web.database import get_session
from xai_eval.web.enrolment import enrol
from xai_eval.web.platforms import PlatformParameterError, parse_visit

bp = Blueprint("participant", __name__)

DEFAULT_CONSENT = ("This is a research study about how people read visual explanations of "
                   "image classifiers. Taking part is voluntary and you may stop at any time. "
                   "We record your answers and response times; we store no personal data "
                   "beyond your platform id, kept as a keyed hash.")
DEFAULT_INSTRUCTIONS = "Look at each picture and answer the question below it."
DEFAULT_DEBRIEF = ("Thank you for taking part. The pictures were explanations produced by "
                   "different methods; your answers help us learn which ones people understand.")


def _texts(study: Study) -> dict[str, Any]:
    definition = study.definition or {}
    parameters = study.parameters
    texts = definition.get("texts") or {}

    def text(key: str, default: str) -> str:
        return str(texts.get(key) or definition.get(key) or parameters.get(key) or default)

    trials = int(parameters.get("trials_per_participant", 0) or 0)
    practice = int(parameters.get("practice_trials", 0) or 0)
    return {
        "consent_text": text("consent", DEFAULT_CONSENT),
        "instructions": text("instructions", DEFAULT_INSTRUCTIONS),
        "debrief": text("debrief", DEFAULT_DEBRIEF),
        "trial_count": trials + practice + int(parameters.get("attention_checks", 0) or 0),
        "practice_count": practice,
        "minutes": max(1, round((trials + practice) * 10 / 60)),
    }


def _resumable(slug: str) -> bool:
    """True when this browser already holds a valid token for ``slug``."""
    token = participant_session.token_for(slug)
    if token is None:
        return False
    try:
        service.participant_for_token(get_session(), token)
    except InvalidTokenError:
        return False
    return True


@bp.get("/studies/")
def home() -> str:
    studies = [s for s in service.list_studies(get_session()) if s.status == "open"]
    return render_template("participant/home.html", studies=studies, study=None)


@bp.get("/study/<slug>/")
def landing(slug: str) -> Response | str:
    """Consent page; a returning browser goes straight back to its trials."""
    study = service.get_study(get_session(), slug)
    try:
        visit = parse_visit(request.args)
    except PlatformParameterError as exc:
        abort(400, description=str(exc))
    if not visit.is_preview and _resumable(slug):
        return redirect(url_for("participant.run", slug=slug))
    return render_template("participant/consent.html", study=study, visit=visit, **_texts(study))


@bp.post("/study/<slug>/start")
def start(slug: str) -> Response:
    """Consent given: start or resume, keep the token in the cookie, go to the trials."""
    if request.form.get("consent") != "yes":
        abort(400, description="please tick the consent box to take part")
    try:
        visit = parse_visit(request.form)
    except PlatformParameterError as exc:
        abort(400, description=str(exc))
    enrol(slug, visit, clear_extras=False)
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
                           **_texts(study))


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
        mturk_assignment=extra.get("assignmentId", ""), **_texts(study))
