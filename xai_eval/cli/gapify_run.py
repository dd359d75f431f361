"""Glue between ``xai-eval gapify`` and :mod:`xai_eval.models.gapify` (the CAM paper's recipe).

The model comes from the model-source plugins, the data from the dataset plugins
(``FORMAT[:ROOT]``; ``embedded`` means the embedded benchmark's training split), and images
go through the same geometry as the suite runner (resize to the model's input size, then
its preprocessing), so a gapified model is scored on exactly what it was trained on.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch

from xai_eval.data.base import CorruptImageError, Dataset
from xai_eval.errors import InputValidationError, MissingResourceError
from xai_eval.plugins import Registries, default_registries


def open_dataset_spec(spec: str, registries: Registries, options: dict[str, Any] | None = None
                      ) -> Dataset:
    """``FORMAT[:ROOT]`` -> an opened dataset (``embedded`` defaults to its train split)."""
    fmt, _, root = spec.partition(":")
    options = dict(options or {})
    cls = registries.get("datasets", fmt).cls
    if fmt == "embedded":
        options.setdefault("split", "train")
        return cls(root or None, **options)
    if not root:
        raise InputValidationError(
            f"--dataset {spec!r} needs a root folder: write it as {fmt}:/path/to/data"
        )
    if not Path(root).exists():
        raise MissingResourceError(f"dataset root {root} does not exist")
    return cls(root, **options)


def model_input(loaded: Any) -> Callable[[Any], torch.Tensor]:
    """PIL image -> model input, resized to the model's input size first (no crop)."""
    from PIL import Image

    height, width = loaded.input_size

    def preprocess(image: Any) -> torch.Tensor:
        if image.size != (width, height):
            image = image.resize((width, height), Image.BILINEAR)
        return loaded.preprocess(image)

    return preprocess


def image_label(dataset: Dataset) -> Callable[[Any], int]:
    """The dataset's image label when it records one, else the largest object's class."""
    from xai_eval.models.gapify import largest_object_label

    item_label = getattr(dataset, "item_label", None)

    def label(item: Any) -> int:
        found = item_label(item) if callable(item_label) else None
        return int(found) if found is not None else largest_object_label(item)

    return label


def accuracy(model: torch.nn.Module, dataset: Dataset, preprocess: Callable[[Any], torch.Tensor],
             label_fn: Callable[[Any], int], batch_size: int = 64) -> float:
    """Top-1 accuracy on a dataset (images that fail to decode are left out)."""
    correct = seen = 0
    xs: list[torch.Tensor] = []
    ys: list[int] = []

    def flush() -> None:
        nonlocal correct, seen
        if xs:
            with torch.no_grad():
                predicted = model(torch.stack(xs)).argmax(1)
            correct += int((predicted == torch.tensor(ys)).sum())
            seen += len(ys)
            xs.clear()
            ys.clear()

    for index in range(len(dataset)):
        item = dataset[index]
        try:
            xs.append(preprocess(item.load_image()))
        except CorruptImageError:
            continue
        ys.append(label_fn(item))
        if len(xs) == batch_size:
            flush()
    flush()
    return correct / max(seen, 1)


def run_gapify(model_spec: str, cut_at: str, dataset_spec: str, epochs: int, out_path: Path,
               pool: str, channels: int, lr: float | None, batch_size: int | None,
               val_spec: str | None = None, max_steps: int | None = None,
               registries: Registries | None = None, progress: bool = True,
               echo: Callable[[str], None] = print) -> dict[str, Any]:
    """Cut, add the GAP (or GMP) head, fine-tune, save; returns the training history."""
    from xai_eval.models.gapify import finetune, gapify, save_gapified
    from xai_eval.models.loading import load_model

    registries = registries or default_registries()
    loaded = load_model(model_spec, registries=registries)
    dataset = open_dataset_spec(dataset_spec, registries)
    classes = list(getattr(dataset, "classes", []) or [])
    if not classes:
        raise InputValidationError(
            f"dataset {dataset_spec!r} does not list its classes, so the new classifier's size "
            "is unknown"
        )
    preprocess = model_input(loaded)
    net = gapify(loaded.model, cut_at, num_classes=len(classes), channels=channels, pool=pool,
                 input_size=loaded.input_size)
    options: dict[str, Any] = {"preprocess": preprocess, "progress": progress,
                               "max_steps": max_steps}
    if lr is not None:
        options["lr"] = lr
    if batch_size is not None:
        options["batch_size"] = batch_size
    echo(f"fine-tuning {model_spec} cut at {cut_at!r} + {channels}-unit conv + "
         f"global {pool} pooling on {len(dataset)} images of {dataset_spec} ({len(classes)} "
         f"classes) for {epochs} epoch(s)")
    history = finetune(net, dataset, epochs=epochs, **options)
    out_path.parent.mkdir(parents=True, exist_ok=True)
    save_gapified(net, out_path)
    line = (f"saved {out_path}; last epoch: loss {history['loss'][-1]:.4f}, train accuracy "
            f"{100 * history['accuracy'][-1]:.1f}%")
    if history["skipped"]:
        line += f"; {len(history['skipped'])} image(s) skipped (cannot decode)"
    if val_spec:
        val = open_dataset_spec(val_spec, registries, {"split": "test"}
                                if val_spec.startswith("embedded") else None)
        history["val_accuracy"] = accuracy(net, val, preprocess, image_label(val))
        line += f"; held-out accuracy {100 * history['val_accuracy']:.1f}% on {val_spec}"
    echo(line)
    echo(f"use it in a suite as: models: [{{spec: \"{model_spec}\", gapified: \"{out_path}\"}}] "
         "(explained at layer cam_conv)")
    return history
