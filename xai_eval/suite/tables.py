"""The result table in the layout of the Grad-CAM paper's Figure 5 table, and its exports.

One row per (dataset, model, method): classification top-1/top-5 error (per model, the
same on every method row, as in the paper), localization top-1/top-5 error, then one
column per further metric in the suite (pointing game, mask IoU, MaxBoxAccV2, PxAP,
deletion/insertion AUC, ...). Errors and accuracies are in percent.
"""

from __future__ import annotations

import csv
import io
import json
from dataclasses import dataclass, field
from typing import Any

from xai_eval.suite.config import SuiteConfig
from xai_eval.suite.results import RunSummary
from xai_eval.suite.units import CLASSIFICATION


@dataclass(frozen=True)
class ColumnSpec:
    """A table column: which metric, which aggregate key(s) to try, and how to show it."""

    label: str
    metric: str  # metric registry name ("classification" for the model-level rows)
    keys: tuple[str, ...]
    scale: float = 1.0  # multiply the stored value (100 turns a fraction into percent)
    digits: int = 2
    #: the column's direction when it differs from its metric's ``higher_is_better``
    higher_is_better: bool | None = None


#: Known columns in the paper's order; metrics not listed get a generic column.
COLUMN_SPECS: tuple[ColumnSpec, ...] = (
    ColumnSpec("cls top-1 err", CLASSIFICATION, ("top1_error",)),
    ColumnSpec("cls top-5 err", CLASSIFICATION, ("top5_error",)),
    ColumnSpec("loc top-1 err", "localization_error", ("top1_error", "top1_loc_error"), 100),
    ColumnSpec("loc top-5 err", "localization_error", ("top5_error", "top5_loc_error"), 100),
    ColumnSpec("GT-known loc err", "localization_error",
               ("gt_known_error", "gt_known_loc_error"), 100),
    ColumnSpec("pointing game", "pointing_game", ("accuracy", "all"), 100),
    ColumnSpec("PG difficult", "pointing_game", ("difficult", "accuracy_difficult"), 100),
    ColumnSpec("energy PG", "energy_pointing_game", ("energy", "mean_energy", "accuracy"), 100),
    ColumnSpec("mask IoU", "mask_iou", ("miou", "mean_iou", "iou"), 100),
    ColumnSpec("MaxBoxAccV2", "max_box_acc", ("max_box_acc_v2",), 100),
    ColumnSpec("PxAP", "pxap", ("pxap",), 100),
    ColumnSpec("deletion AUC", "deletion", ("auc", "deletion_auc"), 1, 4),
    ColumnSpec("insertion AUC", "insertion", ("auc", "insertion_auc"), 1, 4),
    ColumnSpec("occlusion corr", "occlusion_correlation",
               ("spearman", "correlation", "rank_correlation"), 1, 3),
    ColumnSpec("sanity |spearman|", "sanity_randomization", ("spearman_abs", "spearman"), 1, 3),
    ColumnSpec("ROAD (LeRF-MoRF)/2", "road", ("combined",), 1, 4),
    ColumnSpec("avg drop %", "average_drop", ("average_drop",)),
    ColumnSpec("increase in conf %", "average_drop", ("increase_in_confidence",),
               higher_is_better=True),
)


@dataclass
class ResultTable:
    """Column labels and rows of formatted-ready numbers (None where not applicable)."""

    columns: list[str]
    rows: list[dict[str, Any]]
    title: str = ""
    #: (row index, column) -> interval (``xai_eval.stats.Interval``), when computed
    intervals: dict[tuple[int, str], Any] = field(default_factory=dict)

    def numeric_columns(self) -> list[str]:
        return [c for c in self.columns if c not in ("dataset", "model", "method")]


def _pick(values: dict[str, Any], keys: tuple[str, ...]) -> Any:
    for key in keys:
        if values.get(key) is not None:
            return values[key]
    return None


def suite_columns(config: SuiteConfig) -> list[tuple[str, str, ColumnSpec]]:
    """(column label, metric id, spec) for the suite's metrics, in the paper's order."""
    columns = [(spec.label, CLASSIFICATION, spec) for spec in COLUMN_SPECS[:2]]
    known = {spec.metric for spec in COLUMN_SPECS}
    for spec in COLUMN_SPECS[2:]:
        for entry in config.metrics:
            if entry.name == spec.metric:
                label = spec.label if entry.id == entry.name else f"{spec.label} ({entry.id})"
                columns.append((label, entry.id, spec))
    for entry in config.metrics:
        if entry.name not in known:
            columns.append((entry.id, entry.id, ColumnSpec(entry.id, entry.name, ())))
    return columns


def build_table(summary: RunSummary, config: SuiteConfig) -> ResultTable:
    """The Figure-5-style table of a run summary."""
    columns = suite_columns(config)
    rows = []
    labels = {e.id: e.label or e.id for e in config.explainers}
    model_labels = {m.id: m.label or m.id for m in config.models}
    for dataset in config.datasets:
        for model in config.models:
            for explainer in config.explainers_for(model.id):
                row: dict[str, Any] = {"dataset": dataset.id, "model": model_labels[model.id],
                                       "method": labels[explainer.id],
                                       "_model_id": model.id, "_explainer_id": explainer.id}
                any_value = False
                for label, metric_id, spec in columns:
                    source = "" if metric_id == CLASSIFICATION else explainer.id
                    values = summary.get(dataset.id, model.id, source, metric_id)
                    value = _pick(values, spec.keys) if spec.keys else _first_number(values)
                    row[label] = None if value is None else float(value) * spec.scale
                    any_value = any_value or (value is not None and source)
                row["_skipped"] = not any_value and bool(config.metrics)
                rows.append(row)
    kept = [label for label, metric_id, _spec in columns
            if metric_id == CLASSIFICATION or any(row[label] is not None for row in rows)]
    for row in rows:  # a column no row has a value for (e.g. no difficult flags) is dropped
        for label, _metric_id, _spec in columns:
            if label not in kept:
                del row[label]
    return ResultTable(["dataset", "model", "method"] + kept, rows,
                       title=f"{config.name}: errors and scores in percent unless AUC/corr")


def _first_number(values: dict[str, Any]) -> Any:
    for value in values.values():
        if isinstance(value, int | float) and not isinstance(value, bool):
            return value
    return None


def _digits(label: str) -> int:
    for spec in COLUMN_SPECS:
        if label.startswith(spec.label):
            return spec.digits
    return 3


def format_value(label: str, value: Any) -> str:
    if value is None:
        return "–"
    return f"{value:.{_digits(label)}f}"


def format_interval(label: str, interval: Any) -> str:
    """``[low, high]`` of a cell's interval, one digit fewer than the value; '' if none."""
    if interval is None or interval.low is None or interval.high is None:
        return ""
    digits = max(_digits(label) - 1, 1)
    return f"[{interval.low:.{digits}f}, {interval.high:.{digits}f}]"


def to_rich(table: ResultTable) -> list[Any]:
    """Rich tables for the terminal: one per dataset, two-line headers so it fits."""
    from rich.table import Table

    datasets = list(dict.fromkeys(row["dataset"] for row in table.rows))
    numeric = table.numeric_columns()
    out = []
    for dataset in datasets:
        rich_table = Table(title=f"{table.title} — {dataset}" if len(datasets) > 1 or dataset
                           else table.title)
        rich_table.add_column("model", no_wrap=True)
        rich_table.add_column("method", no_wrap=True)
        for column in numeric:
            rich_table.add_column(column.replace(" ", "\n", 1), justify="right")
        for index, row in enumerate(table.rows):
            if row["dataset"] != dataset:
                continue
            method = str(row["method"]) + (" (skipped)" if row.get("_skipped") else "")
            rich_table.add_row(str(row["model"]), method, *(
                "\n".join(filter(None, (format_value(c, row[c]),
                                         format_interval(c, table.intervals.get((index, c))))))
                for c in numeric))
        if table.intervals:
            confidence = next(iter(table.intervals.values())).confidence
            rich_table.caption = (f"value, then its {confidence:.0%} interval (bootstrap over "
                                  "images; Wilson for classification errors)")
        out.append(rich_table)
    return out


def to_markdown(table: ResultTable) -> str:
    lines = ["| " + " | ".join(table.columns) + " |",
             "|" + "|".join("---" if c in ("dataset", "model", "method") else "---:"
                            for c in table.columns) + "|"]
    for row in table.rows:
        cells = [str(row[c]) if c in ("dataset", "model", "method") else format_value(c, row[c])
                 for c in table.columns]
        if row.get("_skipped"):
            cells[2] += " (skipped)"
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def to_csv(table: ResultTable) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(table.columns)
    for row in table.rows:
        writer.writerow(["" if row[c] is None else row[c] for c in table.columns])
    return buffer.getvalue()


def to_json(table: ResultTable, summary: RunSummary, extra: dict[str, Any] | None = None) -> str:
    """The table plus every aggregate, count and skip (machine-readable)."""
    payload = {
        "run_id": summary.run_id,
        "table": {"columns": table.columns,
                  "rows": [{c: row[c] for c in table.columns} for row in table.rows]},
        "aggregates": [
            {"dataset": d, "model": m, "explainer": e, "metric": metric,
             "rows": summary.counts.get((d, m, e, metric), 0), "values": values}
            for (d, m, e, metric), values in sorted(summary.values.items())
        ],
        "skipped_images": summary.skipped_images,
        "skipped_pairs": summary.skipped_pairs,
        "metric_warnings": summary.metric_warnings,
        **(extra or {}),
    }
    return json.dumps(payload, indent=2, sort_keys=False, default=str)
