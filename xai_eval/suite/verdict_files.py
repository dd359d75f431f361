"""Files and table plumbing of the verdict: intervals onto table cells, CSV exports.

``results.csv`` stays byte-for-byte what it was (others diff it); the intervals go to
``results_intervals.csv`` (one row per cell, long format) and the paired comparisons to
``comparisons.csv``; ``results.json`` carries both plus the verdict.
"""

from __future__ import annotations

import csv
import io
from typing import Any

from xai_eval.plugins import Registries
from xai_eval.suite.config import SuiteConfig
from xai_eval.suite.tables import ResultTable, suite_columns
from xai_eval.suite.uncertainty import RunUncertainty, run_uncertainty
from xai_eval.suite.units import CLASSIFICATION
from xai_eval.suite.verdict import Verdict, build_verdict


def attach_intervals(table: ResultTable, uncertainty: RunUncertainty, config: SuiteConfig
                     ) -> None:
    """Fill ``table.intervals`` from the cell intervals (classification cells: explainer '')."""
    metric_of = {label: metric_id for label, metric_id, _ in suite_columns(config)}
    for index, row in enumerate(table.rows):
        for column in table.numeric_columns():
            source = "" if metric_of.get(column) == CLASSIFICATION else row.get("_explainer_id")
            key = (row["dataset"], row.get("_model_id"), source, column)
            if key in uncertainty.cells:
                table.intervals[(index, column)] = uncertainty.cells[key]


def intervals_csv(table: ResultTable) -> str:
    """One row per table cell with its interval (long format)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(["dataset", "model", "method", "column", "estimate", "low", "high", "n",
                     "interval", "confidence"])
    for index, row in enumerate(table.rows):
        for column in table.numeric_columns():
            interval = table.intervals.get((index, column))
            if interval is None:
                continue
            writer.writerow([row["dataset"], row["model"], row["method"], column,
                             *("" if v is None else v for v in (
                                 interval.estimate, interval.low, interval.high)),
                             interval.n, interval.method, interval.confidence])
    return buffer.getvalue()


def comparisons_csv(uncertainty: RunUncertainty, labels: dict[str, str]) -> str:
    """Every paired comparison: difference a - b, its interval, raw and Holm p-values."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(["dataset", "model", "column", "a", "b", "difference", "low", "high",
                     "p_value", "p_holm", "significant"])
    for c in uncertainty.comparisons:
        d = c.difference
        writer.writerow([c.dataset, c.model, c.column, labels.get(c.a, c.a),
                         labels.get(c.b, c.b), *("" if v is None else v for v in (
                             d.estimate, d.low, d.high)), c.p_value, c.p_holm, c.significant])
    return buffer.getvalue()


def analyse(rows: list[dict[str, Any]], table: ResultTable, config: SuiteConfig,
            registries: Registries) -> tuple[RunUncertainty, Verdict]:
    """Intervals, comparisons and the verdict of a run's stored rows; fills the table."""
    uncertainty = run_uncertainty(rows, config, registries, config.report.resamples,
                                  config.report.confidence)
    attach_intervals(table, uncertainty, config)
    verdict = build_verdict(config, registries, uncertainty)
    from xai_eval.suite.agreement import metric_agreement

    verdict.agreements = metric_agreement(table, config, registries)
    return uncertainty, verdict
