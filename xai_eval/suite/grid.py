"""The explanation grid written next to report.html: photos x every explainer, one PNG.

One file per (model, dataset), ``explanations_<model>_<dataset>.png``: a row per image (the
first ``rows`` that decode), the plain image first and then one overlay per explainer of
the suite, each explaining the model's predicted class (the Grad-CAM paper's figures do
the same). Row titles give the true and the predicted class. An explainer that cannot
handle the model (e.g. CAM without a GAP head) or fails on the batch gets an empty column
marked "n/a", so the grid always has the suite's shape. Written with
:func:`xai_eval.explain.overlay.save_grid`, a separate file so it can be looked at, linked
or attached without the report.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import numpy as np
import torch

from xai_eval.data.base import CorruptImageError
from xai_eval.errors import XaiEvalError
from xai_eval.plugins import Registries
from xai_eval.suite.config import SuiteConfig


def grid_filename(model_id: str, dataset_id: str) -> str:
    safe = re.sub(r"[^A-Za-z0-9_.-]+", "-", f"{model_id}_{dataset_id}")
    return f"explanations_{safe}.png"


def _short(names: list[str] | None, class_id: int | None) -> str:
    if class_id is None:
        return "?"
    name = names[class_id] if names and 0 <= class_id < len(names) else str(class_id)
    return name if len(name) <= 18 else name[:17] + "…"


def write_grids(out_dir: Path, config: SuiteConfig, registries: Registries,
                base_dir: Path | None, rows: int) -> list[tuple[str, Path]]:
    """Write one grid PNG per (model, dataset); returns (title, path) pairs."""
    from PIL import Image

    from xai_eval.explain.overlay import model_view, save_grid
    from xai_eval.suite.resources import build_explainer, load_model, open_dataset
    from xai_eval.suite.runner import PAIR_ERRORS
    from xai_eval.suite.samples import prepare_image

    written = []
    for dataset_entry in config.datasets:
        dataset = open_dataset(dataset_entry, registries, base_dir)
        item_label = getattr(dataset, "item_label", None)
        for model_entry in config.models:
            loaded = load_model(model_entry, registries, config.device)
            height, width = loaded.input_size
            prepared, views = [], []
            for index in range(len(dataset)):
                item = dataset[index]
                label = item_label(item) if callable(item_label) else None
                try:
                    prepared.append(prepare_image(index, item, loaded, label))
                    resized = item.load_image().resize((width, height), Image.BILINEAR)
                except CorruptImageError:
                    continue
                views.append(model_view(resized, loaded.preprocess, (height, width)))
                if len(prepared) == rows:
                    break
            if not prepared:
                continue
            images = torch.stack([p.tensor for p in prepared]).to(config.device)
            with torch.no_grad():
                predicted = loaded.model(images).argmax(dim=1)
            titles, columns = [], []
            for entry in config.explainers_for(model_entry.id):
                title = entry.label or entry.id
                try:
                    explainer = build_explainer(entry, loaded, model_entry, registries)
                    maps = explainer(images, predicted).detach().float().cpu().numpy()
                    if maps.ndim == 4:
                        maps = maps[:, 0]
                except (XaiEvalError, *PAIR_ERRORS):
                    maps, title = np.zeros((len(prepared), height, width)), f"{title} (n/a)"
                titles.append(title)
                columns.append(maps)
            names = loaded.classes
            row_titles = [f"true {_short(names, p.label)}\npred {_short(names, int(c))}"
                          for p, c in zip(prepared, predicted.tolist(), strict=True)]
            per_row: list[list[Any]] = [[column[r] for column in columns]
                                        for r in range(len(prepared))]
            path = save_grid(Path(out_dir) / grid_filename(model_entry.id, dataset_entry.id),
                             views, per_row, column_titles=titles, row_titles=row_titles)
            written.append((f"{model_entry.label or model_entry.id} / {dataset_entry.id}", path))
    return written
