"""Write a run's results: CSV, JSON, Markdown and a self-contained HTML report.

The HTML page embeds everything (bar charts and example overlays as base64 PNGs, inline
CSS): it opens offline, from an e-mail attachment or a CI artifact, with no CDN.
Charts use matplotlib's Agg backend, so no display is needed.
"""

from __future__ import annotations

import base64
import html
import io
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np

from xai_eval.plugins import Registries
from xai_eval.suite.config import SuiteConfig
from xai_eval.suite.results import RunSummary
from xai_eval.suite.tables import (
    ResultTable,
    format_interval,
    format_value,
    to_csv,
    to_json,
    to_markdown,
)
from xai_eval.suite.units import CLASSIFICATION

LABEL_COLUMNS = ("dataset", "model", "method")


@dataclass
class ReportFiles:
    """Paths of everything written."""

    csv: Path
    json: Path
    markdown: Path
    html: Path
    extra: dict[str, Path] = field(default_factory=dict)


def write_reports(out_dir: str | Path, table: ResultTable, summary: RunSummary,
                  config: SuiteConfig, registries: Registries | None = None,
                  base_dir: Path | None = None, meta: dict[str, Any] | None = None,
                  analysis: tuple[Any, Any] | None = None) -> ReportFiles:
    """Write results.csv/.json/.md and report.html into ``out_dir``.

    ``analysis`` is ``(RunUncertainty, Verdict)`` from
    :func:`xai_eval.suite.verdict_files.analyse`: intervals and comparisons go to
    results_intervals.csv / comparisons.csv / results.json, the verdict opens report.html.
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    meta = dict(meta or {})
    files = ReportFiles(out / "results.csv", out / "results.json", out / "results.md",
                        out / "report.html")
    files.csv.write_text(to_csv(table))
    extra: dict[str, Any] = {"meta": meta}
    verdict_section = ""
    if analysis is not None:
        from xai_eval.suite.verdict import verdict_html
        from xai_eval.suite.verdict_files import comparisons_csv, intervals_csv

        uncertainty, verdict = analysis
        labels = {e.id: e.label or e.id for e in config.explainers}
        files.extra["intervals"] = out / "results_intervals.csv"
        files.extra["comparisons"] = out / "comparisons.csv"
        files.extra["intervals"].write_text(intervals_csv(table))
        files.extra["comparisons"].write_text(comparisons_csv(uncertainty, labels))
        extra["intervals"] = [
            {"row": index, "column": column, **interval.as_dict()}
            for (index, column), interval in sorted(table.intervals.items())]
        extra["comparisons"] = [c.as_dict() for c in uncertainty.comparisons]
        extra["verdict"] = verdict.as_dict()
        verdict_section = verdict_html(verdict)
    files.json.write_text(to_json(table, summary, extra))
    files.markdown.write_text(f"# {html.escape(config.name)}\n\n" + to_markdown(table))
    examples: list[tuple[str, str]] = []
    if registries is not None and config.report.examples > 0:
        try:
            examples = example_figures(config, registries, base_dir, config.report.examples)
        except Exception as exc:  # a failed illustration must not lose the numbers
            meta["examples_error"] = f"{type(exc).__name__}: {exc}"
    grids: list[tuple[str, Path]] = []
    if registries is not None and config.report.grid > 0:
        from xai_eval.suite.grid import write_grids

        try:
            grids = write_grids(out, config, registries, base_dir, config.report.grid)
        except Exception as exc:  # a failed illustration must not lose the numbers
            meta["grid_error"] = f"{type(exc).__name__}: {exc}"
        files.extra.update({f"grid {title}": path for title, path in grids})
    files.html.write_text(render_html(table, summary, config, examples, meta, grids,
                                      verdict_section))
    return files


# --- charts ----------------------------------------------------------------------------
def _png(figure: Any) -> str:
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=90, bbox_inches="tight")
    import matplotlib.pyplot as plt

    plt.close(figure)
    return base64.b64encode(buffer.getvalue()).decode("ascii")


def bar_charts(table: ResultTable) -> list[tuple[str, str]]:
    """One grouped bar chart per numeric column: (column, base64 PNG)."""
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    charts = []
    for column in table.numeric_columns():
        values = [(f"{r['model']}\n{r['method']}", r[column]) for r in table.rows
                  if r[column] is not None]
        datasets = {r["dataset"] for r in table.rows}
        if not values or column.startswith("cls "):
            continue
        if len(datasets) > 1:
            values = [(f"{r['dataset']}\n{r['model']}\n{r['method']}", r[column])
                      for r in table.rows if r[column] is not None]
        figure, axis = plt.subplots(figsize=(max(4.0, 0.6 * len(values) + 1.5), 3.2))
        models = sorted({label.split("\n")[-2] for label, _ in values})
        palette = plt.get_cmap("tab10")
        colours = [palette(models.index(label.split("\n")[-2]) % 10) for label, _ in values]
        axis.bar(range(len(values)), [v for _, v in values], color=colours)
        axis.set_xticks(range(len(values)))
        axis.set_xticklabels([label for label, _ in values], rotation=60, ha="right",
                             fontsize=7)
        axis.set_title(column)
        axis.grid(axis="y", alpha=0.3)
        charts.append((column, _png(figure)))
    return charts


# --- example overlays ------------------------------------------------------------------
def overlay_rgb(image: np.ndarray, saliency: np.ndarray, alpha: float = 0.5) -> np.ndarray:
    """Blend a (H, W) map over an RGB uint8 image with the explain area's overlay (jet)."""
    from PIL import Image

    from xai_eval.explain.overlay import overlay

    return np.asarray(overlay(Image.fromarray(image), saliency, alpha=alpha))


def example_figures(config: SuiteConfig, registries: Registries, base_dir: Path | None,
                    count: int) -> list[tuple[str, str]]:
    """Per (model, dataset): a grid of the first ``count`` images x every explainer."""
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt
    import torch

    from xai_eval.data.base import CorruptImageError
    from xai_eval.errors import XaiEvalError
    from xai_eval.suite.resources import build_explainer, load_model, open_dataset
    from xai_eval.suite.samples import prepare_image

    figures = []
    for dataset_entry in config.datasets:
        dataset = open_dataset(dataset_entry, registries, base_dir)
        for model_entry in config.models:
            loaded = load_model(model_entry, registries, config.device)
            prepared, pictures = [], []
            for index in range(min(len(dataset), count * 3)):
                item = dataset[index]
                try:
                    prepared.append(prepare_image(index, item, loaded))
                except CorruptImageError:
                    continue
                height, width = loaded.input_size
                pictures.append(np.asarray(item.load_image().resize((width, height))))
                if len(prepared) == count:
                    break
            if not prepared:
                continue
            images = torch.stack([p.tensor for p in prepared])
            with torch.no_grad():
                predicted = loaded.model(images).argmax(dim=1)
            explainers = config.explainers_for(model_entry.id)
            figure, axes = plt.subplots(len(prepared), len(explainers) + 1,
                                        figsize=(1.6 * (len(explainers) + 1), 1.7 * len(prepared)),
                                        squeeze=False)
            names = loaded.classes or []
            for row, picture in enumerate(pictures):
                axes[row, 0].imshow(picture)
                label = int(predicted[row])
                axes[row, 0].set_title(names[label] if label < len(names) else str(label),
                                       fontsize=7)
            for column, entry in enumerate(explainers, start=1):
                axes[0, column].set_title(entry.label or entry.id, fontsize=7)
                try:
                    explainer = build_explainer(entry, loaded, model_entry, registries)
                    maps = explainer(images, predicted).detach().cpu().numpy()
                except XaiEvalError:
                    maps = None
                for row, picture in enumerate(pictures):
                    if maps is None:
                        axes[row, column].text(0.5, 0.5, "n/a", ha="center", va="center")
                    else:
                        axes[row, column].imshow(overlay_rgb(picture, maps[row]))
            for axis in axes.flat:
                axis.set_xticks([])
                axis.set_yticks([])
            figure.suptitle(f"{model_entry.label or model_entry.id} on {dataset_entry.id} "
                            "(explaining the predicted class)", fontsize=8)
            figures.append((f"{model_entry.id} / {dataset_entry.id}", _png(figure)))
    return figures


# --- HTML ------------------------------------------------------------------------------
_CSS = """
body{font-family:system-ui,sans-serif;margin:2em;max-width:1200px;color:#222}
table{border-collapse:collapse;font-size:13px;margin:1em 0}
th,td{border:1px solid #ccc;padding:4px 8px}td.num{text-align:right}
th{background:#f2f2f2}.muted{color:#777}.charts img{margin:4px;border:1px solid #eee}
.ci{color:#777;font-size:11px}
"""


def _html_table(table: ResultTable) -> str:
    head = "".join(f"<th>{html.escape(c)}</th>" for c in table.columns)
    body = []
    for index, row in enumerate(table.rows):
        cells = []
        for column in table.columns:
            if column in LABEL_COLUMNS:
                text = str(row[column])
                if column == "method" and row.get("_skipped"):
                    text += " (skipped)"
                cells.append(f"<td>{html.escape(text)}</td>")
            else:
                interval = format_interval(column, table.intervals.get((index, column)))
                ci = f'<br><span class="ci">{interval}</span>' if interval else ""
                cells.append(f'<td class="num">{format_value(column, row[column])}{ci}</td>')
        body.append("<tr>" + "".join(cells) + "</tr>")
    return f"<table><tr>{head}</tr>{''.join(body)}</table>"


def _skips_html(summary: RunSummary) -> str:
    parts = [f"<p>Skipped images: <b>{len(summary.skipped_images)}</b>; skipped "
             f"(model, explainer) pairs: <b>{len(summary.skipped_pairs)}</b>.</p>"]
    if summary.skipped_pairs:
        parts.append("<ul>" + "".join(
            f"<li>{html.escape(s['explainer'])} on {html.escape(s['model'])} "
            f"({html.escape(s['dataset'])}): {html.escape(s['reason'])}</li>"
            for s in summary.skipped_pairs) + "</ul>")
    if summary.skipped_images:
        rows = "".join(
            f"<tr><td>{html.escape(s['dataset'])}</td><td>{html.escape(s['image_id'])}</td>"
            f"<td>{html.escape(s['model'] or '–')}</td><td>{html.escape(s['explainer'] or '–')}"
            f"</td><td>{html.escape(s['reason'])}</td></tr>" for s in summary.skipped_images[:200])
        parts.append("<table><tr><th>dataset</th><th>image</th><th>model</th><th>explainer</th>"
                     f"<th>reason</th></tr>{rows}</table>")
    if summary.metric_warnings:
        parts.append("<p>Metric warnings (the first per metric and dataset):</p><ul>" + "".join(
            f"<li>{html.escape(w['metric'])} on {html.escape(w['dataset'])}: "
            f"{html.escape(w['message'])}</li>" for w in summary.metric_warnings) + "</ul>")
    return "".join(parts)


def _accuracy_html(summary: RunSummary) -> str:
    """Top-1/top-5 classification accuracy per (dataset, model), from the stored rows."""
    rows = []
    for (dataset, model, explainer, metric), values in sorted(summary.values.items()):
        if explainer or metric != CLASSIFICATION or values.get("top1_accuracy") is None:
            continue
        rows.append(f"<tr><td>{html.escape(dataset)}</td><td>{html.escape(model)}</td>"
                    f'<td class="num">{values["top1_accuracy"]:.1f}</td>'
                    f'<td class="num">{values["top5_accuracy"]:.1f}</td>'
                    f'<td class="num">{summary.counts.get((dataset, model, "", metric), 0)}</td>'
                    "</tr>")
    if not rows:
        return '<p class="muted">No labelled images.</p>'
    return ("<table><tr><th>dataset</th><th>model</th><th>top-1 acc %</th><th>top-5 acc %</th>"
            f"<th>labels scored</th></tr>{''.join(rows)}</table>")


def _grids_html(grids: list[tuple[str, Path]], meta: dict[str, Any]) -> str:
    parts = [f'<h3>{html.escape(title)}</h3><p><a href="{html.escape(path.name)}">'
             f'<img alt="explanation grid: {html.escape(title)}" src="{html.escape(path.name)}" '
             'style="max-width:100%"></a></p>' for title, path in grids]
    if meta.get("grid_error"):
        parts.append(f'<p class="muted">Grid failed: {html.escape(meta["grid_error"])}</p>')
    if not parts:
        return ""
    return ("<h2>Explanations</h2><p>Rows: images; columns: every explainer, each explaining "
            "the predicted class (files next to this report).</p>" + "".join(parts))


def _sections_html(meta: dict[str, Any]) -> str:
    """Extra sections a caller computed from the run (e.g. the demo's claims check)."""
    return "".join(f"<h2>{html.escape(title)}</h2>{body}" for title, body in meta.get("sections", []))


def render_html(table: ResultTable, summary: RunSummary, config: SuiteConfig,
                examples: list[tuple[str, str]], meta: dict[str, Any],
                grids: list[tuple[str, Path]] | None = None, verdict_section: str = "") -> str:
    charts = "".join(f'<img alt="{html.escape(c)}" src="data:image/png;base64,{b}">'
                     for c, b in bar_charts(table))
    example_html = "".join(
        f'<h3>{html.escape(title)}</h3><img alt="examples" src="data:image/png;base64,{b}">'
        for title, b in examples) or '<p class="muted">No examples.</p>'
    if meta.get("examples_error"):
        example_html += f'<p class="muted">Examples failed: {html.escape(meta["examples_error"])}</p>'
    timings = meta.get("timings") or {}
    timing_html = "".join(f"<tr><td>{html.escape(k)}</td><td class=num>{v:.1f} s</td></tr>"
                          for k, v in timings.items())
    created = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{html.escape(config.name)} — xai-eval</title>
<style>{_CSS}</style></head><body>
<h1>{html.escape(config.name)}</h1>
<p class="muted">run {html.escape(summary.run_id)} · written {created} ·
database {html.escape(str(meta.get("database", "")))}</p>
{verdict_section}
<h2>Results</h2>
<p>Layout of the Grad-CAM paper's Figure 5 table: classification and localization error
(top-1/top-5, %) per model and method, then the suite's other metrics. Lower is better for
errors and deletion AUC; higher for the rest. Under each value: its interval (see the
Verdict's legend; results_intervals.csv and comparisons.csv hold every interval and paired
comparison).</p>
{_html_table(table)}
{_sections_html(meta)}
<h2>Classification accuracy</h2>{_accuracy_html(summary)}
{_grids_html(grids or [], meta)}
<h2>Skipped</h2>{_skips_html(summary)}
<h2>Charts</h2><div class="charts">{charts}</div>
<h2>Examples</h2>{example_html}
<h2>Timings</h2><table>{timing_html}</table>
</body></html>
"""
