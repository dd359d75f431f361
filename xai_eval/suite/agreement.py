"""Which metric to believe: do the suite's metrics rank the explainers alike?

AttriBench's two summaries, per (dataset, model):

- the **inter-metric rank-correlation matrix**: Spearman's rho between every two columns'
  scores over the explainers, each column's direction aligned first (an error column is
  negated), so +1 means "same ranking";
- **Krippendorff's alpha** (ordinal) with the columns as coders and the explainers as units,
  on the ranks, per metric family and over all columns.

Columns computed from the same metric (the three localization errors) are near-duplicates
and raise agreement; the family rows keep that visible.
"""

from __future__ import annotations

import html
from dataclasses import dataclass, field
from typing import Any

from xai_eval.plugins import Registries
from xai_eval.stats import krippendorff_alpha, rank_correlation_matrix, rank_with_ties
from xai_eval.suite.config import SuiteConfig
from xai_eval.suite.tables import ResultTable, suite_columns
from xai_eval.suite.units import CLASSIFICATION
from xai_eval.suite.verdict import _family_key, column_direction, metric_family


@dataclass
class MetricAgreement:
    dataset: str
    model: str
    columns: list[str]
    matrix: dict[tuple[str, str], float | None]
    alpha: dict[str, float | None] = field(default_factory=dict)  # family (or "all") -> alpha

    def as_dict(self) -> dict[str, Any]:
        return {"dataset": self.dataset, "model": self.model, "columns": self.columns,
                "spearman": [[self.matrix[(a, b)] for b in self.columns] for a in self.columns],
                "krippendorff_alpha_ordinal": self.alpha}


def metric_agreement(table: ResultTable, config: SuiteConfig, registries: Registries
                     ) -> list[MetricAgreement]:
    """Agreement between the table's metric columns, per (dataset, model)."""
    entries = {m.id: m for m in config.metrics}
    meta: dict[str, tuple[bool, str]] = {}
    for label, metric_id, spec in suite_columns(config):
        if metric_id == CLASSIFICATION or label not in table.columns:
            continue
        cls = registries.get("metrics", entries[metric_id].name).cls
        meta[label] = (column_direction(spec, cls), metric_family(entries[metric_id].name, cls))
    out = []
    groups: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for row in table.rows:
        groups.setdefault((row["dataset"], row["model"]), []).append(row)
    for (dataset, model), rows in groups.items():
        scores = {}
        for column, (higher, _family) in meta.items():
            values = [row[column] for row in rows]
            if sum(v is not None for v in values) >= 3:
                scores[column] = [None if v is None else (v if higher else -v) for v in values]
        if len(scores) < 2:
            continue
        ranks = {c: rank_with_ties(v) for c, v in scores.items()}
        families: dict[str, list[str]] = {}
        for column in scores:
            families.setdefault(meta[column][1], []).append(column)
        alpha = {family: krippendorff_alpha([ranks[c] for c in cols], "ordinal")
                 for family, cols in sorted(families.items(), key=lambda kv: _family_key(kv[0]))
                 if len(cols) >= 2}
        alpha["all"] = krippendorff_alpha(list(ranks.values()), "ordinal")
        out.append(MetricAgreement(dataset, model, list(scores),
                                   rank_correlation_matrix(scores), alpha))
    return out


def _fmt(value: float | None) -> str:
    return "–" if value is None else f"{value:.2f}"


def agreement_lines(agreements: list[MetricAgreement]) -> list[str]:
    """One terminal line per (dataset, model)."""
    return [f"metric agreement, {a.model} on {a.dataset}: Krippendorff's alpha (ordinal, "
            "over explainer ranks) " + ", ".join(f"{k} {_fmt(v)}" for k, v in a.alpha.items())
            for a in agreements]


def agreement_html(agreements: list[MetricAgreement]) -> str:
    if not agreements:
        return ""
    parts = ["<h2>Which metric to believe</h2><p>Spearman's rho between the metrics' "
             "explainer scores (directions aligned: +1 = the same ranking) and Krippendorff's "
             "alpha (ordinal) over the explainer ranks, the metrics as coders. The three "
             "localization errors come from one metric and agree by construction.</p>"]
    for a in agreements:
        head = "".join(f"<th>{html.escape(c)}</th>" for c in a.columns)
        rows = "".join(
            f"<tr><th>{html.escape(r)}</th>" + "".join(
                f'<td class="num">{_fmt(a.matrix[(r, c)])}</td>' for c in a.columns) + "</tr>"
            for r in a.columns)
        alpha = ", ".join(f"{html.escape(k)} {_fmt(v)}" for k, v in a.alpha.items())
        parts.append(f"<h3>{html.escape(a.model)} on {html.escape(a.dataset)}</h3>"
                     f"<p>Krippendorff's alpha: {alpha}</p>"
                     f"<table><tr><th></th>{head}</tr>{rows}</table>")
    return "".join(parts)
