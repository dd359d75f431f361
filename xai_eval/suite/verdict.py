"""The Verdict: per metric family, explainers ranked, ties where the data cannot separate them.

For each (dataset, model) and each family (localization, faithfulness, sanity, ...), every
column of that family ranks the explainers by their point estimate (rank 1 = best, in the
metric's direction) and gives them compact letters (Piepho 2004): two explainers that
share a letter in a column are *not* significantly different there (paired bootstrap over
images, Holm-corrected; :mod:`xai_eval.suite.uncertainty`). The family's order is the mean
rank over its columns. This is the screen a person acts on: "in localization, CAM and
Grad-CAM are tied at the top; Backprop is reliably worse".
"""

from __future__ import annotations

import html
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from xai_eval.plugins import Registries
from xai_eval.stats import Interval, compact_letter_display, rank_with_ties
from xai_eval.suite.config import SuiteConfig
from xai_eval.suite.tables import _digits, suite_columns
from xai_eval.suite.uncertainty import RunUncertainty
from xai_eval.suite.units import CLASSIFICATION

#: family of the built-in metrics; a metric class may set ``family`` itself
KNOWN_FAMILIES: dict[str, str] = {
    "localization_error": "localization", "pointing_game": "localization",
    "energy_pointing_game": "localization", "mask_iou": "localization",
    "max_box_acc": "localization", "pxap": "localization",
    "deletion": "faithfulness", "insertion": "faithfulness",
    "occlusion_correlation": "faithfulness", "road": "faithfulness",
    "infidelity": "faithfulness", "max_sensitivity": "robustness",
    "average_drop": "faithfulness", "increase_in_confidence": "faithfulness",
    "sanity_randomization": "sanity",
}
FAMILY_ORDER = ("localization", "faithfulness", "sanity", "robustness", "human", "other")


def metric_family(name: str, cls: Any = None) -> str:
    return str(getattr(cls, "family", "") or KNOWN_FAMILIES.get(name, "other"))


def column_direction(spec: Any, cls: Any) -> bool:
    """Higher is better for this column: the column's own override, else its metric's."""
    if getattr(spec, "higher_is_better", None) is not None:
        return bool(spec.higher_is_better)
    return bool(getattr(cls, "higher_is_better", True))


@dataclass
class RankedEntry:
    explainer: str
    label: str
    interval: Interval
    rank: float
    letters: str


@dataclass
class RankedColumn:
    column: str
    higher_is_better: bool
    entries: list[RankedEntry]


@dataclass
class FamilyVerdict:
    family: str
    dataset: str
    model: str
    model_label: str
    columns: list[RankedColumn]
    order: list[tuple[str, str, float]]  # (explainer id, label, mean rank), best first

    def as_dict(self) -> dict[str, Any]:
        return {
            "family": self.family, "dataset": self.dataset, "model": self.model,
            "order": [{"explainer": e, "label": label, "mean_rank": r}
                      for e, label, r in self.order],
            "columns": [{"column": c.column, "higher_is_better": c.higher_is_better,
                         "entries": [{"explainer": x.explainer, "rank": x.rank,
                                      "letters": x.letters, **x.interval.as_dict()}
                                     for x in c.entries]} for c in self.columns],
        }


@dataclass
class Verdict:
    families: list[FamilyVerdict] = field(default_factory=list)
    confidence: float = 0.95
    resamples: int = 0
    notes: list[str] = field(default_factory=list)
    #: :class:`xai_eval.suite.agreement.MetricAgreement` per (dataset, model)
    agreements: list[Any] = field(default_factory=list)
    #: :class:`xai_eval.suite.reliability.ReliabilityRow` per (model, metric)
    reliability: list[Any] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {"confidence": self.confidence, "resamples": self.resamples,
                "notes": self.notes, "families": [f.as_dict() for f in self.families],
                "metric_agreement": [a.as_dict() for a in self.agreements],
                "metric_reliability": [{"model": r.model, "metric": r.metric,
                                        "images": r.n_images, "explainers": r.n_explainers,
                                        **r.scores.as_dict()} for r in self.reliability]}


def build_verdict(config: SuiteConfig, registries: Registries,
                  uncertainty: RunUncertainty) -> Verdict:
    """Rank the explainers per (dataset, model, family) from the run's intervals."""
    verdict = Verdict(confidence=uncertainty.confidence, resamples=uncertainty.resamples)
    columns = [(label, metric_id, spec) for label, metric_id, spec in suite_columns(config)
               if metric_id != CLASSIFICATION]
    entries = {m.id: m for m in config.metrics}
    labels = {e.id: e.label or e.id for e in config.explainers}
    for dataset in config.datasets:
        for model in config.models:
            explainers = [e.id for e in config.explainers_for(model.id)]
            by_family: dict[str, list[RankedColumn]] = {}
            for label, metric_id, spec in columns:
                entry = entries[metric_id]
                cls = registries.get("metrics", entry.name).cls
                ranked = _rank_column(uncertainty, dataset.id, model.id, label, explainers,
                                      labels, column_direction(spec, cls))
                if ranked is not None:
                    by_family.setdefault(metric_family(entry.name, cls), []).append(ranked)
            for family in sorted(by_family, key=_family_key):
                verdict.families.append(FamilyVerdict(
                    family, dataset.id, model.id, model.label or model.id, by_family[family],
                    _mean_order(by_family[family])))
    return verdict


def _family_key(family: str) -> tuple[int, str]:
    return (FAMILY_ORDER.index(family) if family in FAMILY_ORDER else len(FAMILY_ORDER), family)


def _rank_column(uncertainty: RunUncertainty, dataset: str, model: str, column: str,
                 explainers: list[str], labels: dict[str, str], higher_is_better: bool
                 ) -> RankedColumn | None:
    cells = [(e, uncertainty.cells[(dataset, model, e, column)]) for e in explainers
             if (dataset, model, e, column) in uncertainty.cells
             and uncertainty.cells[(dataset, model, e, column)].estimate is not None]
    if len(cells) < 2:
        return None
    ranks = rank_with_ties([c.estimate for _, c in cells], higher_is_better)
    order = sorted(range(len(cells)), key=lambda i: (ranks[i], i))
    ids = [cells[i][0] for i in order]
    letters = compact_letter_display(ids, sorted(uncertainty.different(dataset, model, column)))
    return RankedColumn(column, higher_is_better, [
        RankedEntry(cells[i][0], labels.get(cells[i][0], cells[i][0]), cells[i][1], ranks[i],
                    letters[cells[i][0]]) for i in order])


def _mean_order(columns: list[RankedColumn]) -> list[tuple[str, str, float]]:
    ranks: dict[str, list[float]] = {}
    names: dict[str, str] = {}
    for column in columns:
        for entry in column.entries:
            ranks.setdefault(entry.explainer, []).append(entry.rank)
            names[entry.explainer] = entry.label
    means = [(e, names[e], float(np.mean(r))) for e, r in ranks.items()]
    return sorted(means, key=lambda t: (t[2], t[1]))


def _cell(column: RankedColumn, explainer: str) -> str:
    for entry in column.entries:
        if entry.explainer == explainer:
            return f"{entry.rank:g} {entry.letters}"
    return "–"


def _estimate(column: RankedColumn, explainer: str) -> str:
    for entry in column.entries:
        if entry.explainer == explainer and entry.interval.estimate is not None:
            return f"{entry.interval.estimate:.{_digits(column.column)}f}"
    return "–"


def _top_group(column: RankedColumn) -> list[str]:
    """The explainers that share the best explainer's first letter (tied for best)."""
    if not column.entries:
        return []
    first = column.entries[0].letters[:1]
    return [e.label for e in column.entries if first and first in e.letters]


LEGEND = ("Rank 1 = best in the metric's direction; explainers that share a letter in a "
          "column are not significantly different (paired bootstrap over images, "
          "{resamples} resamples, Holm-corrected, {confidence:.0%}).")


def verdict_rich(verdict: Verdict) -> list[Any]:
    """Rich renderables for the terminal: one compact table per (family, model, dataset)."""
    from rich.table import Table

    out: list[Any] = []
    for family in verdict.families:
        table = Table(title=f"Verdict — {family.family}: {family.model_label} on "
                            f"{family.dataset}", title_justify="left")
        table.add_column("#", justify="right")
        table.add_column("method", no_wrap=True)
        table.add_column("mean\nrank", justify="right")
        for column in family.columns:
            table.add_column(column.column.replace(" ", "\n", 1), justify="right")
        for position, (explainer, label, mean_rank) in enumerate(family.order, start=1):
            table.add_row(str(position), label, f"{mean_rank:.1f}",
                          *(_cell(c, explainer) for c in family.columns))
        best = "; ".join(f"{c.column}: {', '.join(_top_group(c))}" for c in family.columns)
        table.caption = f"tied for best — {best}"
        out.append(table)
    if verdict.families:
        out.append(LEGEND.format(resamples=verdict.resamples, confidence=verdict.confidence))
    out.extend(verdict.notes)
    if verdict.agreements:
        from xai_eval.suite.agreement import agreement_lines

        out.extend(agreement_lines(verdict.agreements))
    if verdict.reliability:
        from xai_eval.suite.reliability import reliability_rich

        out.append(reliability_rich(verdict.reliability))
    return out


def verdict_html(verdict: Verdict) -> str:
    """The report's Verdict section (first thing on the page)."""
    if not verdict.families:
        return ('<h2>Verdict</h2><p class="muted">No intervals were computed '
                '(report.resamples is 0 or the run has no metric rows).</p>')
    parts = ["<h2>Verdict</h2>", "<p>" + html.escape(LEGEND.format(
        resamples=verdict.resamples, confidence=verdict.confidence)) + "</p>"]
    for family in verdict.families:
        head = "".join(f"<th>{html.escape(c.column)}</th>" for c in family.columns)
        rows = []
        for position, (explainer, label, mean_rank) in enumerate(family.order, start=1):
            cells = "".join(
                f'<td class="num">{html.escape(_cell(c, explainer))}'
                f'<br><span class="muted">{html.escape(_estimate(c, explainer))}</span></td>'
                for c in family.columns)
            rows.append(f"<tr><td>{position}</td><td>{html.escape(label)}</td>"
                        f'<td class="num">{mean_rank:.1f}</td>{cells}</tr>')
        best = "".join(f"<li>{html.escape(c.column)}: {html.escape(', '.join(_top_group(c)))}"
                       "</li>" for c in family.columns)
        parts.append(
            f"<h3>{html.escape(family.family)} — {html.escape(family.model_label)} on "
            f"{html.escape(family.dataset)}</h3>"
            f"<table><tr><th>#</th><th>method</th><th>mean rank</th>{head}</tr>"
            f"{''.join(rows)}</table><p>Tied for best:</p><ul>{best}</ul>")
    parts.extend(f'<p class="muted">{html.escape(n)}</p>' for n in verdict.notes)
    if verdict.agreements:
        from xai_eval.suite.agreement import agreement_html

        parts.append(agreement_html(verdict.agreements))
    if verdict.reliability:
        from xai_eval.suite.reliability import reliability_html

        parts.append(reliability_html(verdict.reliability))
    return "".join(parts)
