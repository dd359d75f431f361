"""Aggregate a run's stored per-image rows into one summary per (dataset, model, explainer, metric).

The summary is computed from the database only — never from a process's memory — so a run
finished by several workers or resumed after a crash gives the same table as one
uninterrupted run.

How a metric's rows are combined: if the metric class defines ``aggregate(records)`` (an
instance method; ``records`` are the per-image dicts its ``update`` returned, plus
``image_id`` and ``class_id``), that decides — e.g. the pointing game's mean of per-class
accuracies or MaxBoxAccV2's threshold sweep over summed counts. Otherwise each numeric
value is averaged over the rows (booleans count as 0/1, ``None`` is left out).
"""

from __future__ import annotations

import math
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

from xai_eval.plugins import Registries
from xai_eval.suite.config import SuiteConfig
from xai_eval.suite.samples import json_scalar
from xai_eval.suite.units import CLASSIFICATION

Key = tuple[str, str, str, str]  # (dataset, model, explainer, metric id)


@dataclass
class RunSummary:
    """Aggregated values per (dataset, model, explainer, metric), plus counts and skips."""

    run_id: str
    values: dict[Key, dict[str, Any]] = field(default_factory=dict)
    counts: dict[Key, int] = field(default_factory=dict)
    skipped_images: list[dict[str, str]] = field(default_factory=list)
    skipped_pairs: list[dict[str, str]] = field(default_factory=list)
    #: the first warning each metric raised per dataset: {"dataset", "metric", "message"}
    metric_warnings: list[dict[str, str]] = field(default_factory=list)

    def get(self, dataset: str, model: str, explainer: str, metric: str) -> dict[str, Any]:
        return self.values.get((dataset, model, explainer, metric), {})


def mean_values(records: list[dict[str, Any]]) -> dict[str, float | None]:
    """The default aggregation: the mean of every numeric value, ignoring None/NaN."""
    sums: dict[str, float] = defaultdict(float)
    counts: dict[str, int] = defaultdict(int)
    keys: list[str] = []
    for record in records:
        for key, value in record.items():
            if key in ("image_id", "class_id"):
                continue
            if key not in keys:
                keys.append(key)
            if isinstance(value, bool | int | float) and not (
                    isinstance(value, float) and math.isnan(value)):
                sums[key] += float(value)
                counts[key] += 1
    return {key: (sums[key] / counts[key] if counts[key] else None) for key in keys
            if counts[key] or key in sums}


def classification_summary(records: list[dict[str, Any]]) -> dict[str, float | None]:
    """Top-1 / top-5 classification error and accuracy in percent, and the image count.

    The error is what the Grad-CAM table shows; the accuracy is the same number read the
    other way, reported for datasets that are only about classification.
    """
    means = mean_values(records)
    out: dict[str, float | None] = {}
    for k in ("top1", "top5"):
        accuracy = means.get(f"{k}_correct")
        out[f"{k}_error"] = None if accuracy is None else 100.0 * (1.0 - accuracy)
        out[f"{k}_accuracy"] = None if accuracy is None else 100.0 * accuracy
    out["n"] = len(records)
    return out


def summarize(rows: list[dict[str, Any]], config: SuiteConfig, registries: Registries,
              run_id: str = "") -> RunSummary:
    """Aggregate stored rows (from :func:`xai_eval.suite.store.result_rows`)."""
    grouped: dict[Key, list[dict[str, Any]]] = defaultdict(list)
    for row in rows:
        key = (row["dataset"], row["model"], row["explainer"], row["metric"])
        record = dict(row["values"] or {})
        record["image_id"], record["class_id"] = row["image_id"], row["class_id"]
        grouped[key].append(record)
    entries = {m.id: m for m in config.metrics}
    summary = RunSummary(run_id)
    for key in sorted(grouped):
        records = grouped[key]
        metric_id = key[3]
        if metric_id == CLASSIFICATION:
            values = classification_summary(records)
        elif metric_id in entries:
            values = aggregate_metric(entries[metric_id], records, registries)
        else:
            values = mean_values(records)
        summary.values[key] = json_scalar(values)
        summary.counts[key] = len(records)
    return summary


def aggregate_metric(entry: Any, records: list[dict[str, Any]], registries: Registries
                     ) -> dict[str, Any]:
    """Use the metric's own ``aggregate`` when it has one, else the mean of each value."""
    cls = registries.get("metrics", entry.name).cls
    aggregate = getattr(cls, "aggregate", None)
    if callable(aggregate):
        metric = cls(**entry.params)
        return dict(metric.aggregate(records))
    return mean_values(records)


def load_summary(factory: Any, run_id: str, config: SuiteConfig, registries: Registries
                 ) -> RunSummary:
    """Summary of a stored run, with its skips and its metrics' warnings."""
    from xai_eval.suite import store

    summary = summarize(store.result_rows(factory, run_id), config, registries, run_id)
    for skip in store.skips(factory, run_id):
        record = {"dataset": skip.dataset, "model": skip.model, "explainer": skip.explainer,
                  "image_id": skip.image_id, "reason": skip.reason}
        if skip.image_id == store.PAIR_SKIP:
            summary.skipped_pairs.append(record)
        else:
            summary.skipped_images.append(record)
    summary.metric_warnings = [{"dataset": w.dataset, "metric": w.metric, "message": w.message}
                               for w in store.metric_warnings(factory, run_id)]
    return summary
