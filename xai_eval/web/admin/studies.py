"""The admin pages: the list of studies, one study's progress and results, status, audit.

Status changes go through the admin service, which writes the audit log. The results come
from :func:`~xai_eval.studies.analysis.study_results` (shown by :mod:`.results_display`),
the automatic metrics from the suite's results table
(:mod:`xai_eval.studies.metric_results`).
"""

from __future__ import annotations

from typing import Any

from flask import Response, abort, current_app, flash, redirect, render_template, request, url_for

from xai_eval.studies import admin_service as service
from xai_eval.web.admin import results_display
from xai_eval.web.admin.blueprint import actor, bp, login_required
from xai_eval.web.database import get_session


@bp.get("/")
@login_required
def index() -> str:
    db = get_session()
    rows = [(study, service.progress(db, study)) for study in service.list_studies(db)]
    return render_template("admin/index.html", rows=rows)


@bp.get("/studies/<slug>")
@login_required
def study(slug: str) -> str:
    db = get_session()
    found = service.get_study(db, slug)
    rules = service.ExclusionRules.from_study(found)
    excluded = service.exclusions(db, found, rules)
    results = service.study_results(db, found, excluded)
    return render_template(
        "admin/study.html", study=found, statuses=service.STUDY_STATUSES,
        progress=service.progress(db, found), rule=rules.describe(), exclusions=excluded,
        results=results_display.as_table(results),
        metrics=service.automatic_metrics(db, found), design=service.design_panel(db, found))


@bp.get("/studies/<slug>/preregistration.md")
@login_required
def preregistration(slug: str) -> Response:
    """The pre-registration document (hypotheses, exclusions, analysis plan, frozen
    definition); its SHA-256 is on the study page and in the results exports."""
    document = service.preregistration_document(service.get_study(get_session(), slug))
    response = Response(document.text, mimetype="text/markdown")
    response.headers["Content-Disposition"] = f'attachment; filename="{slug}-preregistration.md"'
    response.headers["X-Content-SHA256"] = document.sha256
    return response


@bp.post("/studies/<slug>/status")
@login_required
def change_status(slug: str) -> Any:
    """Change a study's status after a confirmation step (the buttons used to act at once)."""
    status = request.form.get("status", "")
    if status not in service.STUDY_STATUSES:
        abort(400, description=f"status must be one of {', '.join(service.STUDY_STATUSES)}")
    db = get_session()
    found = service.get_study(db, slug)
    if request.form.get("confirm") != "yes":
        return render_template("admin/confirm_status.html", study=found, status=status)
    service.set_study_status(db, found, status, actor())
    flash(f"Study {slug} is now {status}.")
    return redirect(url_for("admin.study", slug=slug))


@bp.post("/studies/<slug>/reentry")
@login_required
def allow_reentry(slug: str) -> Any:
    """Let a participant (named by Prolific PID / MTurk workerId) resume once from a new
    session, after a support request; audited."""
    platform_id = request.form.get("platform_id", "").strip()
    if not platform_id or len(platform_id) > 128:
        abort(400, description="give the participant's Prolific PID or MTurk workerId")
    db = get_session()
    found = service.allow_reentry(db, service.get_study(db, slug), platform_id,
                                  service.platform_id_key(current_app.config), actor())
    flash(f"Participant {found} may now continue once from a new browser or session."
          if found is not None else "No participant of this study has that platform id.")
    return redirect(url_for("admin.study", slug=slug))


@bp.get("/studies/<slug>/chart.png")
@login_required
def chart(slug: str) -> Response:
    from xai_eval.web.admin.charts import results_chart_png  # matplotlib: only when drawn

    db = get_session()
    results = service.study_results(db, service.get_study(db, slug))
    return Response(results_chart_png(results), mimetype="image/png")


@bp.get("/audit")
@login_required
def audit_log() -> str:
    return render_template("admin/audit.html", rows=service.recent_audit(get_session()))
