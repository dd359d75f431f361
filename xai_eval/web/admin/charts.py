"""Result charts as PNG, drawn on the server with matplotlib (no JavaScript, no CDN)."""

from __future__ import annotations

import io
from typing import Any


def results_chart_png(results: Any) -> bytes:
    """Bar chart of accuracy (or mean rating) per condition with its 95% CI as error bars."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib.figure import Figure

    figure = Figure(figsize=(6.4, 3.2), dpi=100)
    axes = figure.subplots()
    names = [c.condition for c in results.conditions]
    centers, lower, upper = [], [], []
    for condition in results.conditions:
        stats = condition.stats
        center = stats.get("accuracy", stats.get("mean"))
        low, high = stats.get("ci_low"), stats.get("ci_high")
        center = float(center) if center is not None else 0.0
        centers.append(center)
        lower.append(center - float(low) if low is not None else 0.0)
        upper.append(float(high) - center if high is not None else 0.0)
    axes.bar(names, centers, yerr=[lower, upper], capsize=6, color="#2457c5")
    if results.kind == "accuracy":
        # a little room above 1.0, so the cap of an interval that reaches 1 is drawn
        axes.set_ylim(0, 1.08)
        axes.set_yticks([0, 0.25, 0.5, 0.75, 1.0])
        axes.set_ylabel("accuracy (95% CI)")
        if results.chance is not None:
            axes.axhline(results.chance, color="#a2321f", linestyle="--", label="chance")
            # outside the plot: inside, the legend covered the bars
            axes.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), frameon=False)
    else:
        axes.axhline(0, color="#5b6476", linewidth=0.8)
        axes.set_ylabel("mean rating (95% CI)")
    axes.set_title(f"{results.task}: {results.included} participants analysed")
    figure.tight_layout()
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png")
    return buffer.getvalue()
