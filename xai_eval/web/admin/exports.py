"""Downloads of a study's raw responses or results as CSV or JSON (audited by the service)."""

from __future__ import annotations

import csv
import io
import json
import math
from typing import Any

from flask import Response, abort

from xai_eval.studies import admin_service as service
from xai_eval.web.admin.blueprint import actor, bp, login_required
from xai_eval.web.database import get_session


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
        columns = list(service.EXPORT_COLUMNS)
    else:
        rows = service.export_results(db, found, actor(), fmt)
        columns = list(dict.fromkeys(k for row in rows for k in row)) or ["condition"]
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
