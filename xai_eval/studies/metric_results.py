"""The metric-suite scores of the explainers and models a study uses, for the admin page.

Human results mean more next to the automatic metrics of the same explainer on the same
model (does the method people understand best also point at the object?). This is the
admin service's only read of the suite's table (:mod:`xai_eval.db.results`). The table may
be missing from a study database (an older schema, a database only `xai-eval study build`
has touched), so that case becomes a message, never an error page.
"""

from __future__ import annotations

import math
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import OperationalError, ProgrammingError
from sqlalchemy.orm import Session

from xai_eval.db.results import MetricResult
from xai_eval.db.studies import Study

#: Rows read at most (the page must stay fast on a huge results table).
MAX_ROWS = 200_000


@dataclass
class MetricsTable:
    """Rows for the admin page's table, or a ``message`` saying why there are none."""

    headers: list[str] = field(default_factory=list)
    rows: list[list[str]] = field(default_factory=list)
    message: str = ""


def _study_names(study: Study) -> tuple[set[str], set[str]]:
    definition = study.definition or {}
    explainers = {e.get("name") for e in definition.get("explainers", []) if e.get("name")}
    models: set[str] = set()
    for model in definition.get("models", []):
        models.update(v for v in (model.get("name"), model.get("spec"), model.get("label")) if v)
    return explainers, models


def metric_means(session: Session, study: Study
                 ) -> dict[tuple[str, str, str], tuple[float, int]] | str:
    """``(explainer, model, metric) -> (mean, n)`` of every numeric metric value of the
    study's explainers and models, or a message saying why there are none."""
    explainers, models = _study_names(study)
    if not explainers:
        return "The study names no explainer."
    query = (select(MetricResult.explainer, MetricResult.model, MetricResult.metric,
                    MetricResult.values)
             .where(MetricResult.explainer.in_(sorted(explainers))).limit(MAX_ROWS))
    sums: dict[tuple[str, str, str], list[float]] = defaultdict(lambda: [0.0, 0.0])
    try:
        for explainer, model, metric, values in session.execute(query):
            if models and model not in models:
                continue
            for key, value in _numeric(values):
                name = metric if key in ("value", metric) else f"{metric}.{key}"
                total = sums[(explainer, model, name)]
                total[0] += value
                total[1] += 1
    except (OperationalError, ProgrammingError):
        session.rollback()
        return ("No metric-suite results in this database yet "
                "(run `xai-eval run SUITE.yaml --db URL` to add them).")
    if not sums:
        return "No metric-suite results for these explainers and models yet."
    return {key: (total / count, int(count)) for key, (total, count) in sums.items()}


def automatic_metrics(session: Session, study: Study) -> MetricsTable:
    """Mean of every numeric metric value per (explainer, model, metric)."""
    means = metric_means(session, study)
    if isinstance(means, str):
        return MetricsTable(message=means)
    rows = [[e, m, name, f"{mean:.4f}", str(count)]
            for (e, m, name), (mean, count) in sorted(means.items())]
    return MetricsTable(headers=["explainer", "model", "metric", "mean", "n"], rows=rows)


def _numeric(values: Any) -> list[tuple[str, float]]:
    if isinstance(values, int | float) and not isinstance(values, bool):
        return [("value", float(values))] if math.isfinite(values) else []
    if not isinstance(values, dict):
        return []
    out = []
    for key, value in values.items():
        if isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value):
            out.append((str(key), float(value)))
    return out
