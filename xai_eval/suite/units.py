"""The work of a suite run, as objects: one model's pass over one dataset, and its batches.

A *unit* is one (model, explainer, dataset, image) — or (model, "", dataset, image) for
classification — and is committed with its rows. Units are computed a batch at a time: a
:class:`Batch` holds what every unit of the batch shares (decoded images, the model's
logits, the explained target classes, which units are still pending), and a
:class:`ModelPass` what every batch of one (model, dataset) shares (the model, its
explainers, the metrics). :func:`result_row` and :func:`classification_rows` are the rows
a unit stores. The runner passes these two objects instead of a dozen loose
arguments, and builds one :class:`~xai_eval.metrics.base.MetricContext` per
(batch, explainer), so metrics receive the model and the explainer once per batch.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field
from typing import Any

import torch

from xai_eval.metrics.base import MetricContext, MetricSample
from xai_eval.suite.samples import (
    PreparedImage,
    build_targets,
    class_boxes,
    class_mask,
    ignore_region,
    is_difficult,
    json_scalar,
    label_classes,
)

#: metric id of the model-level classification rows (explainer "")
CLASSIFICATION = "classification"


@dataclass
class ModelPass:
    """One model over one dataset: what every batch of the pass shares."""

    model_id: str
    loaded: Any  # the LoadedModel (its .model is the torch module)
    dataset_id: str
    explainers: dict[str, Any]  # explainer id -> built explainer
    metrics: dict[str, list[tuple[Any, Any]]]  # explainer id -> [(MetricEntry, Metric)]
    pair_skipped: set[str]  # explainer ids that cannot work with this model (grows)
    topk: int  # maps also wanted for the top-k predicted classes (0: metrics need none)
    device: str = "cpu"

    def regions(self, explainer_id: str) -> list[str]:
        """The ground-truth regions the metrics of ``explainer_id`` score against."""
        return sorted({entry.region for entry, _ in self.metrics[explainer_id]})


@dataclass
class Batch:
    """One fixed slice of a pass's images and its model outputs (set by :meth:`classify`)."""

    work: ModelPass
    prepared: list[PreparedImage]
    pending: dict[str, set[str]]  # explainer id ("" = classification) -> image ids to do
    images: torch.Tensor | None = None  # (B, 3, H, W) on the device
    logits: torch.Tensor | None = None  # (B, C) float, on the CPU
    targets: torch.Tensor | None = None  # (B, K): k top-k predictions, then the GT classes
    present: list[tuple[int, ...]] = field(default_factory=list)  # GT classes per image
    k: int = 0  # number of top-k columns in ``targets``

    def classify(self) -> None:
        """One forward of the whole batch; the targets every explainer is asked for."""
        images = torch.stack([p.tensor for p in self.prepared]).to(self.work.device)
        with torch.no_grad():
            logits = self.work.loaded.model(images).float().cpu()
        self.images, self.logits = images, logits
        self.targets, self.present, self.k = build_targets(self.prepared, logits, self.work.topk)

    def context(self, explainer_id: str) -> MetricContext:
        """What every sample of ``explainer_id`` in this batch shares (built once)."""
        work = self.work
        return MetricContext(model=work.loaded.model, explainer=work.explainers[explainer_id],
                             dataset=work.dataset_id, model_id=work.model_id,
                             explainer_id=explainer_id)

    def samples(self, b: int, class_id: int, column: int, maps: torch.Tensor,
                context: MetricContext) -> dict[str, MetricSample]:
        """Image ``b``'s sample for ``class_id`` (map column ``k + column``), per region."""
        image, k = self.prepared[b], self.k
        assert self.logits is not None and self.targets is not None
        ignore = ignore_region(image)
        out = {}
        for region in self.work.regions(context.explainer_id):
            boxes, box_difficult = class_boxes(image, class_id, region)
            out[region] = MetricSample(
                image_id=image.item.image_id, gt_class=class_id, saliency=maps[k + column],
                gt_boxes=boxes, gt_mask=class_mask(image, class_id, region),
                image=image.tensor, difficult=is_difficult(image.item, class_id),
                gt_box_difficult=box_difficult, all_gt_classes=self.present[b],
                logits=self.logits[b], topk_classes=self.targets[b, :k] if k else None,
                topk_saliency=maps[:k] if k else None, ignore_mask=ignore,
                extras={"region": region, "item_extras": image.item.extras},
                context=context,
            )
        return out


def update_recording(metric: Any, sample: MetricSample) -> tuple[dict[str, Any], list[str]]:
    """``metric.update(sample)`` and the messages of the UserWarnings it raised.

    Every ``UserWarning`` is caught (each one, not only the first per code location) so the
    runner can record it; other warning categories are passed on as they were raised.
    """
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", UserWarning)
        values = metric.update(sample)
    messages = []
    for warning in caught:
        if issubclass(warning.category, UserWarning):
            messages.append(f"{warning.category.__name__}: {warning.message}")
        else:
            warnings.warn_explicit(warning.message, warning.category, warning.filename,
                                   warning.lineno)
    return values, messages


def result_row(run_id: str, model: str, explainer: str, dataset: str, metric: str,
               image_id: str, class_id: int, values: dict[str, Any]) -> dict[str, Any]:
    """One ``metric_results`` row with JSON-safe values."""
    return {"run_id": run_id, "model": model, "explainer": explainer, "dataset": dataset,
            "metric": metric, "image_id": image_id, "class_id": int(class_id),
            "values": json_scalar(dict(values or {}))}


def classification_rows(run_id: str, model_id: str, dataset_id: str,
                        prepared: list[PreparedImage], logits: torch.Tensor,
                        present: list[tuple[int, ...]], todo: set[str]) -> list[dict[str, Any]]:
    """Top-1/top-5 correctness per (image, label class) of the images in ``todo``."""
    k = min(5, logits.shape[1])
    top = logits.topk(k, dim=1).indices.tolist()
    rows = []
    for b, image in enumerate(prepared):
        if image.item.image_id not in todo:
            continue
        for class_id in label_classes(image, present[b]):
            rows.append(result_row(run_id, model_id, "", dataset_id, CLASSIFICATION,
                                   image.item.image_id, class_id, {
                                       "top1_correct": top[b][0] == class_id,
                                       "top5_correct": class_id in top[b],
                                       "top1_class": top[b][0],
                                   }))
    return rows
