"""Geometry between a dataset item and the model input, and the MetricSamples built from it.

Every metric is scored in the model-input frame (H x W = ``LoadedModel.input_size``): the
runner resizes the decoded image to that size (no crop, so no part of an object is lost)
and applies the model's preprocessing; boxes are scaled by the same factors and masks are
resized with nearest-neighbour sampling. An explainer that returns maps of another size
has them resized bilinearly to H x W, with a warning (documented in docs/suites.md).
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from xai_eval.data.base import Annotation, DatasetItem
from xai_eval.errors import InputValidationError
from xai_eval.metrics.base import MetricSample
from xai_eval.models.base import LoadedModel


@dataclass
class PreparedImage:
    """A decoded image in the model-input frame, with its dataset index."""

    index: int
    item: DatasetItem
    tensor: torch.Tensor  # (3, H, W)
    scale_x: float
    scale_y: float
    label: int | None = None  # the image-level class, when the dataset records one


def prepare_image(index: int, item: DatasetItem, loaded: LoadedModel,
                  label: int | None = None) -> PreparedImage:
    """Decode (raises CorruptImageError), resize to the model input size, preprocess."""
    from PIL import Image

    image = item.load_image()
    height, width = loaded.input_size
    original_w, original_h = image.size
    if (original_w, original_h) != (width, height):
        image = image.resize((width, height), Image.BILINEAR)
    tensor = loaded.preprocess(image)
    if not isinstance(tensor, torch.Tensor) or tuple(tensor.shape[-2:]) != (height, width):
        shape = tuple(tensor.shape) if isinstance(tensor, torch.Tensor) else type(tensor).__name__
        raise InputValidationError(
            f"model {loaded.name!r}: its preprocessing turned a {width}x{height} image into "
            f"{shape}; the suite runner needs preprocessing that keeps the size (no crop) so "
            "boxes and masks stay aligned — set input_size to the size it produces"
        )
    return PreparedImage(index, item, tensor.float(), width / original_w, height / original_h,
                         label)


def gt_classes(prepared: PreparedImage) -> tuple[int, ...]:
    """The annotated classes, or the image label alone for a classification-only dataset.

    A dataset without boxes (e.g. ``imagenet_photos``) still has a ground-truth class: it
    is what classification accuracy is scored against and what the label metrics explain.
    """
    present = prepared.item.classes_present()
    if not present and prepared.label is not None:
        return (int(prepared.label),)
    return present


def label_classes(prepared: PreparedImage, present: tuple[int, ...]) -> tuple[int, ...]:
    """The image label as a 1-tuple when known and annotated, else every class present."""
    if prepared.label is not None and prepared.label in present:
        return (prepared.label,)
    return present


def region_annotations(item: DatasetItem, region: str = "object") -> list[Any]:
    """The annotations a metric scores against: the objects, or their evidence parts.

    ``region="evidence"`` reads ``item.extras["evidence"]`` (one annotation per object,
    written by datasets with known evidence such as ``embedded_v2``) and ``region="cue"``
    ``item.extras["cue"]`` (the planted-bias mark, scored for every class present); a
    dataset without them is an error, not a silent fall-back to the object boxes.
    """
    if region == "object":
        return list(item.annotations)
    if region == "evidence":
        if "evidence" not in item.extras:
            raise InputValidationError(
                f"image {item.image_id!r} has no evidence annotations; `region: evidence` needs "
                "a dataset that records them (e.g. format: embedded_v2)")
        return list(item.extras["evidence"])
    if region == "cue":  # the cue is the same region whichever class is explained
        cue = item.extras.get("cue")
        if cue is None:
            raise InputValidationError(
                f"image {item.image_id!r} has no bias cue; `region: cue` needs a dataset that "
                "records one (e.g. format: embedded_v2, split: bias_test)")
        return [Annotation(c, cue.box, False, cue.mask) for c in item.classes_present()]
    raise InputValidationError(f"region must be 'object', 'evidence' or 'cue', not {region!r}")


def class_boxes(prepared: PreparedImage, class_id: int, region: str = "object"
                ) -> tuple[torch.Tensor, torch.Tensor]:
    """(N, 4) xyxy boxes of ``class_id`` in the input frame and their (N,) difficult flags."""
    boxes, difficult = [], []
    for annotation in region_annotations(prepared.item, region):
        if annotation.class_id != class_id:
            continue
        x0, y0, x1, y1 = annotation.box
        boxes.append([x0 * prepared.scale_x, y0 * prepared.scale_y,
                      x1 * prepared.scale_x, y1 * prepared.scale_y])
        difficult.append(bool(annotation.difficult))
    return (torch.tensor(boxes, dtype=torch.float32).reshape(-1, 4),
            torch.tensor(difficult, dtype=torch.bool))


def class_mask(prepared: PreparedImage, class_id: int, region: str = "object") -> torch.Tensor | None:
    """Union of the class's object (or evidence) masks, resized (nearest) to the input frame."""
    masks = [a.mask for a in region_annotations(prepared.item, region)
             if a.class_id == class_id and a.mask is not None]
    if not masks:
        return None
    union = np.zeros(masks[0].shape, dtype=bool)
    for mask in masks:
        union |= np.asarray(mask, dtype=bool)
    tensor = torch.from_numpy(union)[None, None].float()
    height, width = prepared.tensor.shape[-2:]
    return F.interpolate(tensor, size=(height, width), mode="nearest")[0, 0] > 0.5


def ignore_region(prepared: PreparedImage) -> torch.Tensor | None:
    """Pixels the mask metrics leave out, resized (nearest) to the input frame, or None.

    Read from ``item.extras["void_mask"]`` (VOC's label 255) or ``["ignore_mask"]``
    (wsolevaluation-style ignore pixels written by a dataset adapter).
    """
    extras = prepared.item.extras
    raw = extras.get("void_mask") if extras.get("void_mask") is not None \
        else extras.get("ignore_mask")
    if raw is None:
        return None
    tensor = torch.as_tensor(np.asarray(raw, dtype=bool))[None, None].float()
    height, width = prepared.tensor.shape[-2:]
    return F.interpolate(tensor, size=(height, width), mode="nearest")[0, 0] > 0.5


def is_difficult(item: DatasetItem, class_id: int) -> bool:
    """TorchRay's "difficult" pointing-game subset flag for (image, class), if the data has it."""
    flags = item.extras.get("difficult_classes") or item.extras.get("pointing_difficult") or ()
    if isinstance(flags, dict):
        return bool(flags.get(class_id, False))
    return class_id in set(flags)


def fit_maps(maps: torch.Tensor, size: tuple[int, int], explainer_id: str) -> torch.Tensor:
    """Resize (B, K, h, w) maps to ``size`` when an explainer returned another size."""
    if tuple(maps.shape[-2:]) == tuple(size):
        return maps
    warnings.warn(
        f"explainer {explainer_id!r} returned {tuple(maps.shape[-2:])} maps for "
        f"{tuple(size)} inputs; resizing them bilinearly to the input size",
        stacklevel=2,
    )
    batch, k = maps.shape[:2]
    resized = F.interpolate(maps.reshape(batch * k, 1, *maps.shape[-2:]).float(), size=size,
                            mode="bilinear", align_corners=False)
    return resized.reshape(batch, k, *size).clamp(min=0)


def build_targets(prepared: list[PreparedImage], logits: torch.Tensor, topk: int
                  ) -> tuple[torch.Tensor, list[tuple[int, ...]], int]:
    """(B, K) target classes: the top-k predictions first, then each image's GT classes.

    Images with fewer GT classes repeat their first one, so one explain() call serves all.
    Returns the targets, each image's GT classes and the number of top-k columns.
    """
    k = min(topk, logits.shape[1]) if topk else 0
    top = logits.topk(k, dim=1).indices if k else logits.new_zeros((len(prepared), 0)).long()
    present = [gt_classes(p) for p in prepared]
    width = max((len(c) for c in present), default=0) or 1
    rows = []
    for row_top, classes in zip(top.tolist(), present, strict=True):
        gt = list(classes) or [row_top[0] if row_top else 0]
        gt = gt + [gt[0]] * (width - len(gt))
        rows.append(list(row_top) + gt)
    return torch.tensor(rows, dtype=torch.long), present, k


def sample_fields_missing(sample: MetricSample, requires: frozenset[str] | set[str]) -> list[str]:
    """The required sample fields that are None or empty (the metric cannot score it)."""
    missing = []
    for field in requires:
        value = getattr(sample, field, None)
        if value is None or (isinstance(value, torch.Tensor) and value.numel() == 0):
            missing.append(field)
    return sorted(missing)


def json_scalar(value: Any) -> Any:
    """A JSON-safe scalar: tensors/numpy unwrapped, NaN/Inf -> None, nested lists kept."""
    if isinstance(value, torch.Tensor):
        value = value.detach().cpu()
        value = value.item() if value.numel() == 1 else value.tolist()
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, np.ndarray):
        value = value.tolist()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, (list, tuple)):
        return [json_scalar(v) for v in value]
    if isinstance(value, dict):
        return {str(k): json_scalar(v) for k, v in value.items()}
    return value
