"""The papers' claims, checked on a finished run's per-image results, with intervals.

Four claims of the CAM/Grad-CAM/TorchRay papers, each decided from the stored per-image
records (never from the aggregate table alone), so every verdict carries a 95 % interval:

1. **CAM = Grad-CAM on a GAP net** (Grad-CAM eq. 5-6): the two give the same per-image
   localisation and pointing outcomes on the GAP model (agreement share, Wilson interval).
2. **Grad-CAM localises better than Backprop and c-MWP** (Grad-CAM Fig. 5 / table): top-1
   localisation error difference, paired bootstrap over images; agrees when the interval
   lies above 0.
3. **Guided Grad-CAM is class-discriminative** (Grad-CAM §3): on images with two classes,
   the share where the maps of *both* classes point at their own object, Guided Grad-CAM
   minus Guided Backprop (paired bootstrap over images).
4. **Every method beats the centre baseline on pointing** (TorchRay): pointing hit rate
   minus the centre map's, paired over (image, class) pairs, per model and method.

The statistics come from ``xai_eval.stats``: :func:`wilson` (Wilson score interval) and
:func:`paired_bootstrap` (paired percentile bootstrap, 1000 resamples, seed 0) are thin
wrappers, so the verdicts are reproducible run to run.
"""

from __future__ import annotations

import math
from collections import defaultdict
from dataclasses import dataclass
from typing import Any

import numpy as np


@dataclass
class Claim:
    """One claim's verdict on this run."""

    claim: str
    scope: str  # e.g. "GAP net" or "FC net: Grad-CAM vs Backprop"
    estimate: float | None
    low: float | None
    high: float | None
    n: int
    verdict: str  # "agrees", "disagrees", "inconclusive" or "not measured"
    detail: str = ""


def wilson(successes: int, n: int) -> tuple[float, float]:
    """Wilson score 95 % interval of a proportion (``xai_eval.stats``)."""
    from xai_eval.stats.intervals import wilson_interval

    interval = wilson_interval(successes, n)
    if interval.low is None or interval.high is None:
        return math.nan, math.nan
    return float(interval.low), float(interval.high)


def paired_bootstrap(a: np.ndarray, b: np.ndarray) -> tuple[float, float, float]:
    """mean(a - b) and its 95 % paired-bootstrap percentile interval (``xai_eval.stats``:
    1000 resamples of the pairs, seed 0, unstratified)."""
    from xai_eval.stats.paired import paired_bootstrap_test

    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    if a.size == 0:
        return math.nan, math.nan, math.nan
    test = paired_bootstrap_test(lambda i: float(a[i].mean()), lambda i: float(b[i].mean()),
                                 [0] * a.size)
    interval = test.difference
    if interval.estimate is None or interval.low is None or interval.high is None:
        return math.nan, math.nan, math.nan
    return float(interval.estimate), float(interval.low), float(interval.high)


def _verdict(low: float, high: float, better_if_positive: bool = True) -> str:
    if math.isnan(low):
        return "not measured"
    if (low > 0) if better_if_positive else (high < 0):
        return "agrees"
    if (high < 0) if better_if_positive else (low > 0):
        return "disagrees"
    return "inconclusive"


def _index(rows: list[dict[str, Any]]) -> dict[tuple[str, str, str], dict[tuple[str, int], dict]]:
    """(model, explainer, metric) -> {(image, class): values}."""
    out: dict[tuple[str, str, str], dict[tuple[str, int], dict]] = defaultdict(dict)
    for row in rows:
        out[(row["model"], row["explainer"], row["metric"])][(row["image_id"], row["class_id"])] = row["values"]
    return out


def _paired(index, model: str, first: str, second: str, metric: str, field: str
            ) -> tuple[np.ndarray, np.ndarray]:
    a, b = index.get((model, first, metric), {}), index.get((model, second, metric), {})
    keys = sorted(k for k in set(a) & set(b)
                  if a[k].get(field) is not None and b[k].get(field) is not None)
    return (np.array([float(a[k][field]) for k in keys]), np.array([float(b[k][field]) for k in keys]))


def cam_equals_gradcam(index, model: str = "gap") -> Claim:
    agree = total = 0
    for metric, fields in (("localization_error", ("top1_correct", "gt_known_correct")),
                           ("pointing_game", ("hit",))):
        for field in fields:
            a, b = _paired(index, model, "cam", "gradcam", metric, field)
            agree, total = agree + int((a == b).sum()), total + a.size
    low, high = wilson(agree, total)
    share = agree / total if total else None
    verdict = "not measured" if not total else ("agrees" if agree == total else "disagrees")
    return Claim("CAM = Grad-CAM on a GAP net", f"model {model}", share, low, high, total, verdict,
                 "share of per-image localisation/pointing outcomes that are identical")


def gradcam_beats(index, models: list[str], other: str, label: str) -> list[Claim]:
    claims = []
    for model in models:
        a, b = _paired(index, model, other, "gradcam", "localization_error", "top1_correct")
        # error(other) - error(Grad-CAM) = correct(Grad-CAM) - correct(other)
        estimate, low, high = paired_bootstrap(100 * (1 - a), 100 * (1 - b))
        claims.append(Claim(f"Grad-CAM localises better than {label}", f"model {model}",
                            estimate, low, high, a.size, _verdict(low, high),
                            f"top-1 loc. error of {label} minus Grad-CAM's, points"))
    return claims


def guided_gradcam_discriminative(index, models: list[str]) -> list[Claim]:
    claims = []
    for model in models:
        both: dict[str, dict[str, list[bool]]] = {"guided_gradcam": defaultdict(list),
                                                  "guided_backprop": defaultdict(list)}
        for explainer, per_image in both.items():
            for (image, _cls), values in index.get((model, explainer, "pointing_game"), {}).items():
                if values.get("hit") is not None:
                    per_image[image].append(bool(values["hit"]))
        images = sorted(i for i in both["guided_gradcam"]
                        if len(both["guided_gradcam"][i]) == 2 and len(both["guided_backprop"].get(i, [])) == 2)
        a = np.array([all(both["guided_gradcam"][i]) for i in images], dtype=float)
        b = np.array([all(both["guided_backprop"][i]) for i in images], dtype=float)
        estimate, low, high = paired_bootstrap(100 * a, 100 * b)
        claims.append(Claim("Guided Grad-CAM is class-discriminative", f"model {model}",
                            estimate, low, high, len(images), _verdict(low, high),
                            "two-class images where both classes' maps hit their own object: "
                            "Guided Grad-CAM minus Guided Backprop, points"))
    return claims


def beats_centre(index, models: list[str], explainers: list[str]) -> list[Claim]:
    claims = []
    for model in models:
        for explainer in explainers:
            if explainer == "center" or (model, explainer, "pointing_game") not in index:
                continue
            a, b = _paired(index, model, explainer, "center", "pointing_game", "hit")
            estimate, low, high = paired_bootstrap(100 * a, 100 * b)
            claims.append(Claim("beats the centre baseline on pointing", f"model {model}: {explainer}",
                                estimate, low, high, a.size, _verdict(low, high),
                                "pointing hit rate minus the centre map's, points"))
    return claims


def check_claims(rows: list[dict[str, Any]], models: list[str], explainers: list[str]) -> list[Claim]:
    """Every claim on a run's per-image rows (one dataset), in the order of the docstring."""
    index = _index(rows)
    claims = [cam_equals_gradcam(index)] if "gap" in models else []
    claims += gradcam_beats(index, models, "backprop", "Backprop")
    claims += gradcam_beats(index, models, "c_mwp", "c-MWP")
    claims += guided_gradcam_discriminative(index, models)
    claims += beats_centre(index, models, explainers)
    return claims


def _fmt(value: float | None, digits: int = 2) -> str:
    return "–" if value is None or math.isnan(value) else f"{value:.{digits}f}"


def to_markdown(claims: list[Claim]) -> str:
    """The claims as a Markdown table (the demo prints it; the report embeds it)."""
    lines = ["| claim | scope | estimate | 95 % interval | n | verdict |", "|---|---|---|---|---|---|"]
    for c in claims:
        lines.append(f"| {c.claim} | {c.scope} | {_fmt(c.estimate, 3 if c.estimate is not None and abs(c.estimate) <= 1 else 2)} | "
                     f"[{_fmt(c.low)}, {_fmt(c.high)}] | {c.n} | {c.verdict} |")
    return "\n".join(lines) + "\n"


def to_html(claims: list[Claim]) -> str:
    import html

    head = "<tr><th>claim</th><th>scope</th><th>estimate</th><th>95 % interval</th><th>n</th><th>verdict</th><th>measured as</th></tr>"
    body = "".join(
        f"<tr><td>{html.escape(c.claim)}</td><td>{html.escape(c.scope)}</td><td class=num>{_fmt(c.estimate, 3)}</td>"
        f"<td>[{_fmt(c.low)}, {_fmt(c.high)}]</td><td class=num>{c.n}</td><td>{html.escape(c.verdict)}</td>"
        f"<td>{html.escape(c.detail)}</td></tr>" for c in claims)
    return f"<table>{head}{body}</table>"
