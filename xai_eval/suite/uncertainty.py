"""An interval on every table cell and Holm-corrected paired comparisons of explainers.

How (docs/verdict.md):

- **Unit of resampling: the image.** Per dataset, every image belongs to one stratum —
  its smallest annotated class id — and images are resampled with replacement within
  their stratum (:func:`xai_eval.stats.stratified_resamples`, seeded by the suite's
  ``seed``). One resample matrix serves every model, explainer and metric of the
  dataset, so comparisons between explainers are *paired*: both are re-scored on exactly
  the same resampled images.
- **A cell's replicate** is the metric's own aggregate (per-class means, MaxBoxAccV2's
  threshold sweep, PxAP's pooled histograms) recomputed on the resampled images, via the
  additive per-image states (:mod:`xai_eval.suite.state_vectors`).
- **Intervals:** percentile intervals of the replicates; classification errors (a plain
  proportion of images) use Wilson's interval.
- **Comparisons:** for every pair of explainers on one (dataset, model, column), the
  difference's replicates give a two-sided bootstrap p-value; Holm corrects the p-values
  of all pairs of that column.
"""

from __future__ import annotations

import itertools
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from xai_eval.metrics.accumulate import CountingMetric
from xai_eval.plugins import Registries
from xai_eval.stats import (
    Interval,
    holm,
    percentile_interval,
    stratified_resamples,
    wilson_interval,
)
from xai_eval.stats.paired import bootstrap_p_value
from xai_eval.suite.config import SuiteConfig
from xai_eval.suite.state_vectors import (
    ClassificationState,
    MeanState,
    compute_from_vector,
    compute_rows,
    image_states,
)
from xai_eval.suite.tables import ColumnSpec, _pick, suite_columns
from xai_eval.suite.units import CLASSIFICATION

CellKey = tuple[str, str, str, str]  # (dataset, model id, explainer id, column label)


@dataclass(frozen=True)
class Comparison:
    """Explainer ``a`` minus explainer ``b`` on one column, paired over the same images."""

    dataset: str
    model: str
    column: str
    a: str
    b: str
    difference: Interval
    p_value: float
    p_holm: float
    significant: bool

    def as_dict(self) -> dict[str, Any]:
        return {"dataset": self.dataset, "model": self.model, "column": self.column,
                "a": self.a, "b": self.b, "difference": self.difference.estimate,
                "low": self.difference.low, "high": self.difference.high,
                "p_value": self.p_value, "p_holm": self.p_holm, "significant": self.significant}


@dataclass
class RunUncertainty:
    """Intervals per cell, bootstrap replicates per cell, and the comparisons."""

    resamples: int
    confidence: float
    seed: int
    cells: dict[CellKey, Interval] = field(default_factory=dict)
    replicates: dict[CellKey, np.ndarray] = field(default_factory=dict)
    comparisons: list[Comparison] = field(default_factory=list)

    def different(self, dataset: str, model: str, column: str) -> set[tuple[str, str]]:
        """Pairs of explainers whose difference on the column is significant (Holm)."""
        return {(c.a, c.b) for c in self.comparisons if c.significant
                and (c.dataset, c.model, c.column) == (dataset, model, column)}


def _accumulator(metric_id: str, config: SuiteConfig, registries: Registries
                 ) -> Callable[[], Any] | Any:
    """A factory of additive accumulators, or the metric instance whose own ``aggregate``
    (not additive: a third-party metric) must be re-run on every resample."""
    if metric_id == CLASSIFICATION:
        return ClassificationState
    entries = {m.id: m for m in config.metrics}
    entry = entries.get(metric_id)
    if entry is not None:
        cls = registries.get("metrics", entry.name).cls
        params = dict(entry.params)
        if issubclass(cls, CountingMetric):
            return lambda: cls(**params)
        if callable(getattr(cls, "aggregate", None)):
            return cls(**params)
    return MeanState


def _draws(strata: list[int], resamples: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """The resamples' image positions and (resamples, images) multiplicities."""
    draws = stratified_resamples(strata, resamples, seed)
    counts = np.zeros((resamples, len(strata)))
    np.add.at(counts, (np.repeat(np.arange(resamples), len(strata)), draws.ravel()), 1.0)
    return draws, counts


def _value(values: dict[str, Any], spec: ColumnSpec) -> float:
    value = _pick(values, spec.keys) if spec.keys else next(
        (v for v in values.values() if isinstance(v, int | float) and not isinstance(v, bool)),
        None)
    return np.nan if value is None else float(value) * spec.scale


def run_uncertainty(rows: list[dict[str, Any]], config: SuiteConfig, registries: Registries,
                    resamples: int = 1000, confidence: float = 0.95,
                    seed: int | None = None) -> RunUncertainty:
    """Intervals and comparisons for every cell of the run's table (module docstring)."""
    seed = config.seed if seed is None else seed
    out = RunUncertainty(resamples, confidence, seed)
    if resamples < 1:
        return out
    grouped: dict[tuple[str, str, str, str], dict[str, list[dict[str, Any]]]] = \
        defaultdict(lambda: defaultdict(list))
    strata: dict[str, dict[str, int]] = defaultdict(dict)
    for row in rows:
        record = dict(row["values"] or {})
        record["image_id"], record["class_id"] = row["image_id"], row["class_id"]
        key = (row["dataset"], row["model"], row["explainer"], row["metric"])
        grouped[key][row["image_id"]].append(record)
        known = strata[row["dataset"]].get(row["image_id"])
        strata[row["dataset"]][row["image_id"]] = (int(row["class_id"]) if known is None
                                                   else min(known, int(row["class_id"])))
    columns = suite_columns(config)
    for dataset in config.datasets:
        images = sorted(strata.get(dataset.id, {}))
        if not images:
            continue
        draws, counts = _draws([strata[dataset.id][i] for i in images], resamples, seed)
        for model in config.models:
            explainers = [e.id for e in config.explainers_for(model.id)]
            computed: dict[tuple[str, str], tuple[dict[str, Any], list[dict[str, Any]]]] = {}
            for label, metric_id, spec in columns:
                sources = [""] if metric_id == CLASSIFICATION else explainers
                for source in sources:
                    key = (dataset.id, model.id, source, metric_id)
                    if key not in grouped:
                        continue
                    if (source, metric_id) not in computed:
                        make = _accumulator(metric_id, config, registries)
                        computed[(source, metric_id)] = (
                            _replicate_values(make, grouped[key], images, counts)
                            if not hasattr(make, "aggregate") else
                            _replicate_aggregates(make, grouped[key], images, draws))
                    point, replicate_values = computed[(source, metric_id)]
                    estimate = _value(point, spec)
                    reps = np.array([_value(v, spec) for v in replicate_values])
                    n = sum(1 for i in images if i in grouped[key])
                    cell = (dataset.id, model.id, source, label)
                    out.replicates[cell] = reps
                    if metric_id == CLASSIFICATION:
                        out.cells[cell] = _wilson_error(grouped[key], spec, confidence)
                    else:
                        out.cells[cell] = percentile_interval(
                            reps, None if np.isnan(estimate) else estimate, n, confidence)
            out.comparisons.extend(_compare(out, dataset.id, model.id, explainers, columns,
                                            confidence))
    return out


def _replicate_values(make: Callable[[], Any], records: dict[str, list[dict[str, Any]]],
                      images: list[str], counts: np.ndarray
                      ) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    layout, matrix, template = image_states(make, records, images)
    point = compute_from_vector(make, layout, matrix.sum(axis=0), template)
    return point, compute_rows(make, layout, counts @ matrix, template)


def _replicate_aggregates(metric: Any, records: dict[str, list[dict[str, Any]]],
                          images: list[str], draws: np.ndarray
                          ) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """The slow path: the metric's own ``aggregate`` on every resample's records."""
    def on(positions: Any) -> dict[str, Any]:
        return dict(metric.aggregate([r for p in positions for r in records.get(images[p], ())]))
    return on(range(len(images))), [on(row) for row in draws]


def _wilson_error(records: dict[str, list[dict[str, Any]]], spec: ColumnSpec,
                  confidence: float) -> Interval:
    """Wilson interval of a classification error column (percent)."""
    name = "top1_correct" if "top1" in spec.keys[0] else "top5_correct"
    values = [bool(r[name]) for rs in records.values() for r in rs if r.get(name) is not None]
    accuracy = wilson_interval(sum(values), len(values), confidence)
    if accuracy.estimate is None:
        return accuracy
    return Interval(100 * (1 - accuracy.estimate), 100 * (1 - accuracy.high),
                    100 * (1 - accuracy.low), accuracy.n, "wilson", confidence)


def _compare(out: RunUncertainty, dataset: str, model: str, explainers: list[str],
             columns: list[tuple[str, str, ColumnSpec]], confidence: float) -> list[Comparison]:
    comparisons: list[Comparison] = []
    for label, metric_id, _spec in columns:
        if metric_id == CLASSIFICATION:
            continue
        present = [e for e in explainers if (dataset, model, e, label) in out.cells
                   and out.cells[(dataset, model, e, label)].estimate is not None]
        pairs = list(itertools.combinations(present, 2))
        if not pairs:
            continue
        raw, intervals = [], []
        for a, b in pairs:
            d = out.replicates[(dataset, model, a, label)] - out.replicates[(dataset, model, b,
                                                                              label)]
            estimate = (out.cells[(dataset, model, a, label)].estimate
                        - out.cells[(dataset, model, b, label)].estimate)
            raw.append(bootstrap_p_value(d))
            intervals.append(percentile_interval(d, estimate, out.cells[
                (dataset, model, a, label)].n, confidence, "paired bootstrap"))
        adjusted = holm(raw)
        for (a, b), interval, p, q in zip(pairs, intervals, raw, adjusted, strict=True):
            comparisons.append(Comparison(dataset, model, label, a, b, interval, p, q,
                                          q < 1 - confidence))
    return comparisons
