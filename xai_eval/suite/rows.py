"""The rows the runner stores: classification rows, metric rows, and per-sample seeds."""

from __future__ import annotations

from typing import Any

import torch

from xai_eval.metrics.seeds import sample_seed  # noqa: F401  (re-exported: the runner's derivation)
from xai_eval.suite.samples import PreparedImage, json_scalar, label_classes

#: metric id of the model-level classification rows (explainer "")
CLASSIFICATION = "classification"


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
