"""Per-study admin pages: progress, results with statistics, exclusions, exports, status.

Exports and status changes go through the study service, which writes the audit log. The
results come from :mod:`xai_eval.studies.analysis` (shown by
:mod:`xai_eval.web.results_display`), the automatic metrics from
:mod:`xai_eval.web.automatic_metrics` (metric-suite results, when that table exists).
"""

from __future__ import annotations

import csv
import io
import json
import math
from typing import Any

from flask import Response, abort, redirect, render_template, request, url_for
from sqlalchemy import select

from xai_eval.db.studies import STUDY_STATUSES, AuditLog
from xai_eval.studies import service
from xai_eval.studies.analysis import study_statistics
from xai_eval.studies.monitoring import EXPORT_COLUMNS
from xai_eval.web import results_display
from xai_eval.web.admin import actor, bp, login_required
from xai_eval.web.automatic_metrics import automatic_metrics
from xai_eval.web.database import get_session

AUDIT_PAGE = 500


def _seed(study: Any) -> int:
    """The study's seed, so the bootstrap CIs on the page and in exports agree."""
    return int(study.parameters.get("seed", 0) or 0)


@bp.get("/studies/<slug>")
@login_required
def study(slug: str) -> str:
    db = get_session()
    found = service.get_study(db, slug)
    rules = service.ExclusionRules.from_study(found)
    excluded = service.exclusions(db, found, rules)
    results = study_statistics(db, found, excluded, seed=_seed(found))
    return render_template(
        "admin/study.html", study=found, statuses=STUDY_STATUSES,
        progress=service.progress(db, found), rule=rules.describe(), exclusions=excluded,
        results=results_display.as_table(results), metrics=automatic_metrics(db, found))


@bp.post("/studies/<slug>/status")
@login_required
def change_status(slug: str) -> Any:
    status = request.form.get("status", "")
    if status not in STUDY_STATUSES:
        abort(400, description=f"status must be one of {', '.join(STUDY_STATUSES)}")
    db = get_session()
    service.set_study_status(db, service.get_study(db, slug), status, actor())
    return redirect(url_for("admin.study", slug=slug))


@bp.get("/studies/<slug>/chart.png")
@login_required
def chart(slug: str) -> Response:
    from xai_eval.web.charts import results_chart_png

    db = get_session()
    found = service.get_study(db, slug)
    results = study_statistics(db, found, seed=_seed(found))
    return Response(results_chart_png(results), mimetype="image/png")


def _finite(value: Any) -> Any:
    """NaN/inf (e.g. kappa when every rater agrees by construction) become null: JSON has
    no NaN, and strict parsers reject the file otherwise."""
    return None if isinstance(value, float) and not math.isfinite(value) else value


def _csv(rows: list[dict[str, Any]], columns: list[str]) -> str:
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=columns, extrasaction="ignore")
    writer.writeheader()
    for row in rows:
        writer.writerow({k: json.dumps(v) if isinstance(v, dict | list) else v
                         for k, v in row.items()})
    return buffer.getvalue()


@bp.get("/studies/<slug>/export/<what>.<fmt>")
@login_required
def export(slug: str, what: str, fmt: str) -> Response:
    """Raw responses or results as CSV/JSON (audited)."""
    if what not in ("responses", "results") or fmt not in ("csv", "json"):
        abort(404)
    db = get_session()
    found = service.get_study(db, slug)
    if what == "responses":
        rows = service.export_responses(db, found, actor(), fmt)
        columns = list(EXPORT_COLUMNS)
    else:
        rows = study_statistics(db, found, seed=_seed(found)).rows()
        columns = list(rows[0]) if rows else ["condition"]
        service.record_audit(db, actor(), "export", found, {"format": fmt, "what": "results",
                                                             "rows": len(rows)})
    filename = f"{slug}-{what}.{fmt}"
    if fmt == "csv":
        body, mimetype = _csv(rows, columns), "text/csv"
    else:
        body = json.dumps([{k: _finite(v) for k, v in row.items()} for row in rows],
                          indent=1, default=str, allow_nan=False)
        mimetype = "application/json"
    response = Response(body, mimetype=mimetype)
    response.headers["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


@bp.get("/audit")
@login_required
def audit_log() -> str:
    rows = get_session().scalars(select(AuditLog).order_by(AuditLog.id.desc())
                                 .limit(AUDIT_PAGE)).all()
    return render_template("admin/audit.html", rows=rows)
