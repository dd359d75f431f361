"""The metric-reliability table (MetaQuantus): which of the suite's metrics to believe.

For the first ``report.reliability`` images of the first dataset, per model, every
explainer's maps are computed three ways and scored by every metric that has a per-image
score:

- **clean**: the maps the suite scores;
- **minor perturbation** (noise resilience): the maps of the same images with Gaussian
  noise added in the model's input space (σ = ``noise`` × the batch's standard deviation,
  seeded) — a trustworthy metric should not reorder the explainers;
- **disruptive perturbation** (adversary reactivity): the clean maps with their pixels
  shuffled (seeded) — an explanation without any location; a trustworthy metric must
  score it worse.

:func:`xai_eval.stats.reliability.reliability_scores` turns the (explainers × images)
scores into MetaQuantus's IAC/IEC for both tests and their mean MC (1 is ideal). Metrics
without a per-image scalar (MaxBoxAccV2's sweep, the localization error's top-k columns)
use the scalar named in :data:`PER_IMAGE_SCORE`, or are listed as not assessed.
"""

from __future__ import annotations

import html
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from xai_eval.metrics.base import MetricSample
from xai_eval.plugins import Registries
from xai_eval.stats.reliability import ReliabilityScores, reliability_scores
from xai_eval.suite.config import SuiteConfig

#: the per-image scalar of each built-in metric's record (bools count as 0/1)
PER_IMAGE_SCORE: dict[str, str] = {
    "pointing_game": "hit", "energy_pointing_game": "energy", "mask_iou": "iou",
    "pxap": "image_ap", "localization_error": "gt_known_correct", "deletion": "auc",
    "insertion": "auc", "average_drop": "drop", "occlusion_correlation": "spearman",
    "road": "combined",
}


@dataclass(frozen=True)
class ReliabilityRow:
    model: str
    metric: str
    scores: ReliabilityScores
    n_images: int
    n_explainers: int


def _samples(prepared: Any, maps: torch.Tensor, targets: list[int], loaded: Any
             ) -> list[MetricSample]:
    from xai_eval.suite.samples import class_boxes, class_mask, ignore_region

    out = []
    for image, saliency, target in zip(prepared, maps, targets, strict=True):
        boxes, difficult = class_boxes(image, target)
        out.append(MetricSample(
            image_id=image.item.image_id, gt_class=target, saliency=saliency,
            gt_boxes=boxes, gt_mask=class_mask(image, target), image=image.tensor,
            gt_box_difficult=difficult, all_gt_classes=image.item.classes_present(),
            model=loaded.model, ignore_mask=ignore_region(image)))
    return out


def _score(metric: Any, key: str, sample: MetricSample) -> float:
    try:
        value = metric.score(sample).get(key)
    except Exception:  # a metric that cannot score one sample leaves a gap, as in the run
        return np.nan
    return np.nan if value is None else float(value)


def metric_reliability(config: SuiteConfig, registries: Registries, base_dir: Path | None,
                       images: int, noise: float = 0.05) -> list[ReliabilityRow]:
    """The reliability rows of every (model, metric with a per-image score)."""
    from xai_eval.data.base import CorruptImageError
    from xai_eval.errors import XaiEvalError
    from xai_eval.suite.resources import build_explainer, load_model, open_dataset
    from xai_eval.suite.samples import gt_classes, prepare_image

    if images < 2 or not config.datasets:
        return []
    dataset = open_dataset(config.datasets[0], registries, base_dir)
    metrics = []
    for entry in config.metrics:
        cls = registries.get("metrics", entry.name).cls
        if entry.name in PER_IMAGE_SCORE and hasattr(cls, "score"):
            metrics.append((entry, cls(**entry.params), PER_IMAGE_SCORE[entry.name],
                            bool(getattr(cls, "higher_is_better", True))))
    rows: list[ReliabilityRow] = []
    for model_entry in config.models:
        loaded = load_model(model_entry, registries, config.device)
        item_label = getattr(dataset, "item_label", None)
        prepared = []
        for index in range(len(dataset)):
            item = dataset[index]
            try:
                image = prepare_image(index, item, loaded,
                                      item_label(item) if callable(item_label) else None)
            except CorruptImageError:
                continue
            if gt_classes(image):
                prepared.append(image)
            if len(prepared) == images:
                break
        if len(prepared) < 2:
            continue
        batch = torch.stack([p.tensor for p in prepared]).to(config.device)
        targets = [int(gt_classes(p)[0]) for p in prepared]
        generator = torch.Generator().manual_seed(config.seed)
        noisy = batch + noise * float(batch.std()) * torch.randn(
            batch.shape, generator=generator).to(batch.device)
        rng = np.random.default_rng(config.seed)
        per_metric: dict[str, list[list[list[float]]]] = {e.id: [[], [], []] for e, *_ in metrics}
        explained = 0
        for entry in config.explainers_for(model_entry.id):
            try:
                explainer = build_explainer(entry, loaded, model_entry, registries)
                target_t = torch.tensor(targets)
                clean = explainer(batch, target_t).detach().float().cpu()
                minor = explainer(noisy, target_t).detach().float().cpu()
            except XaiEvalError:
                continue
            explained += 1
            flat = clean.reshape(len(prepared), -1)
            shuffled = torch.stack([row[torch.from_numpy(rng.permutation(row.numel()))]
                                    for row in flat]).reshape(clean.shape)
            conditions = [_samples(prepared, m, targets, loaded) for m in (clean, minor, shuffled)]
            for metric_entry, metric, key, _higher in metrics:
                for slot, samples in enumerate(conditions):
                    per_metric[metric_entry.id][slot].append([_score(metric, key, s)
                                                              for s in samples])
        for metric_entry, _metric, _key, higher in metrics:
            q, q_noise, q_adv = (np.asarray(m, dtype=float) for m in per_metric[metric_entry.id])
            if explained < 2 or q.size == 0:
                continue
            keep = np.isfinite(q).all(0) & np.isfinite(q_noise).all(0) & np.isfinite(q_adv).all(0)
            if keep.sum() < 2:
                continue
            rows.append(ReliabilityRow(model_entry.label or model_entry.id, metric_entry.id,
                                       reliability_scores(q[:, keep], q_noise[:, keep],
                                                          q_adv[:, keep], higher),
                                       int(keep.sum()), explained))
    return rows


def _fmt(value: float | None) -> str:
    return "–" if value is None else f"{value:.2f}"


HEADERS = ("model", "metric", "IAC NR", "IAC AR", "IEC NR", "IEC AR", "MC", "images")


def reliability_cells(row: ReliabilityRow) -> list[str]:
    s = row.scores
    return [row.model, row.metric, _fmt(s.iac_nr), _fmt(s.iac_ar), _fmt(s.iec_nr),
            _fmt(s.iec_ar), _fmt(s.meta_consistency), str(row.n_images)]


def reliability_rich(rows: list[ReliabilityRow]) -> Any:
    from rich.table import Table

    table = Table(title="Metric reliability (MetaQuantus: NR = noise resilience, AR = "
                        "adversary reactivity; 1 is ideal)", title_justify="left")
    for header in HEADERS:
        table.add_column(header, justify="left" if header in ("model", "metric") else "right")
    for row in rows:
        table.add_row(*reliability_cells(row))
    return table


def reliability_html(rows: list[ReliabilityRow]) -> str:
    if not rows:
        return ""
    head = "".join(f"<th>{h}</th>" for h in HEADERS)
    body = "".join("<tr>" + "".join(f"<td>{html.escape(c)}</td>" for c in reliability_cells(r))
                   + "</tr>" for r in rows)
    return ("<h2>Metric reliability</h2><p>MetaQuantus's criteria on the first images: noise "
            "resilience (NR) — Gaussian input noise should not change the scores (IAC: "
            "Wilcoxon p) nor reorder the explainers per image (IEC); adversary reactivity "
            "(AR) — pixel-shuffled maps must score worse (IAC: 1 − p; IEC: share worse). MC "
            "is their mean; 1 is ideal.</p>"
            f"<table><tr>{head}</tr>{body}</table>")
