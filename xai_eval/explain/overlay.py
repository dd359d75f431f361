"""Heat-map overlays: a saliency map coloured by a matplotlib colormap, blended over the image.

:func:`overlay` draws one map; :func:`save_grid` lays out several (images x methods) in one
figure for reports; :func:`model_view` crops/resizes the photo the way the model's
preprocessing did, so a map computed on the model's input lines up with what is shown.
Maps are min-max normalised per map for display; a constant map (``degenerate``) shows as
the colormap's lowest colour everywhere, never as NaN noise.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from PIL import Image

from xai_eval.errors import InputValidationError
from xai_eval.explain.postprocess import normalize, upsample


def _as_map(saliency: Any) -> torch.Tensor:
    if isinstance(saliency, np.ndarray):
        saliency = torch.from_numpy(saliency)
    if not isinstance(saliency, torch.Tensor):
        raise InputValidationError(
            f"saliency must be a (H, W) tensor or array, not {type(saliency).__name__}")
    saliency = saliency.detach().cpu().float()
    if saliency.dim() == 3 and saliency.shape[0] == 1:
        saliency = saliency[0]
    if saliency.dim() != 2:
        raise InputValidationError(
            f"saliency must have shape (H, W); got {tuple(saliency.shape)} (pick one map, "
            "e.g. maps[0] or maps[0, k])")
    if not bool(torch.isfinite(saliency).all()):
        raise InputValidationError("saliency contains NaN or Inf")
    return saliency


def colorize(saliency: Any, size: tuple[int, int], cmap: str = "jet") -> np.ndarray:
    """(H, W) map -> (height, width, 3) float RGB in [0, 1] at ``size`` = (width, height)."""
    import matplotlib

    try:
        colormap = matplotlib.colormaps[cmap]
    except KeyError:
        raise InputValidationError(
            f"unknown colormap {cmap!r}; use a matplotlib name such as 'jet', 'viridis', "
            "'inferno' or 'turbo'") from None
    width, height = size
    resized = upsample(_as_map(saliency), (height, width))
    scaled = normalize(resized, mode="minmax").numpy()
    return colormap(scaled)[..., :3]


def overlay(image: Image.Image, saliency: Any, alpha: float = 0.5, cmap: str = "jet"
            ) -> Image.Image:
    """Blend the coloured map over ``image``: ``(1 - alpha) * image + alpha * colour``.

    The map is resized (bilinear) to the image and min-max normalised; ``alpha`` in [0, 1].
    """
    if not isinstance(image, Image.Image):
        raise InputValidationError(f"image must be a PIL.Image, not {type(image).__name__}")
    if not 0.0 <= float(alpha) <= 1.0:
        raise InputValidationError(f"alpha must be in [0, 1]; got {alpha}")
    rgb = np.asarray(image.convert("RGB"), dtype=np.float64) / 255.0
    heat = colorize(saliency, image.size, cmap)
    blended = (1.0 - alpha) * rgb + alpha * heat
    return Image.fromarray(np.clip(np.rint(blended * 255.0), 0, 255).astype(np.uint8), "RGB")


def model_view(image: Image.Image, preprocess: Callable[[Any], Any] | None,
               size: tuple[int, int]) -> Image.Image:
    """The part of ``image`` the model saw, at its input ``size`` = (height, width).

    Replays the geometric steps of torchvision's ``ImageClassification`` transform (resize,
    centre crop) or of a ``Compose`` (its steps before ``ToTensor``); any other
    preprocessing is assumed to be a plain resize.
    """
    from torchvision import transforms as T
    from torchvision.transforms import functional as F

    view = image.convert("RGB")
    if hasattr(preprocess, "resize_size") and hasattr(preprocess, "crop_size"):
        view = F.resize(view, preprocess.resize_size, interpolation=preprocess.interpolation)
        view = F.center_crop(view, preprocess.crop_size)
    elif isinstance(preprocess, T.Compose):
        for step in preprocess.transforms:
            if isinstance(step, (T.ToTensor, T.PILToTensor, T.Normalize, T.ConvertImageDtype)):
                break
            view = step(view)
    height, width = size
    if view.size != (width, height):
        view = view.resize((width, height), Image.BILINEAR)
    return view


def save_grid(path: str | Path, images: Sequence[Image.Image], maps: Sequence[Sequence[Any]],
              column_titles: Sequence[str] | None = None, row_titles: Sequence[str] | None = None,
              alpha: float = 0.5, cmap: str = "jet", show_image: bool = True,
              panel_inches: float = 2.0, dpi: int = 100) -> Path:
    """Write a figure with one row per image and one overlay per map in that row.

    ``maps[i]`` holds the (H, W) maps of ``images[i]`` (one per method, say); with
    ``show_image`` the plain image comes first in each row. Titles label the columns (the
    maps; "image" is added for the first column) and the rows. Returns the written path.
    """
    from matplotlib.figure import Figure

    if len(images) != len(maps) or not images:
        raise InputValidationError(
            f"save_grid needs one row of maps per image; got {len(images)} images and "
            f"{len(maps)} rows")
    columns = {len(row) for row in maps}
    if len(columns) != 1:
        raise InputValidationError(f"every row needs the same number of maps; got {sorted(columns)}")
    n_maps = columns.pop()
    if column_titles is not None and len(column_titles) != n_maps:
        raise InputValidationError(f"{len(column_titles)} column titles for {n_maps} maps per row")
    if row_titles is not None and len(row_titles) != len(images):
        raise InputValidationError(f"{len(row_titles)} row titles for {len(images)} images")
    n_cols = n_maps + int(show_image)
    figure = Figure(figsize=(panel_inches * n_cols, panel_inches * len(images)), dpi=dpi)
    axes = figure.subplots(len(images), n_cols, squeeze=False)
    titles = (["image"] if show_image else []) + list(column_titles or [])
    for row, (image, row_maps) in enumerate(zip(images, maps, strict=True)):
        panels = ([image.convert("RGB")] if show_image else []) + [
            overlay(image, saliency, alpha, cmap) for saliency in row_maps]
        for col, panel in enumerate(panels):
            axis = axes[row][col]
            axis.imshow(panel)
            axis.set_xticks([])
            axis.set_yticks([])
            if row == 0 and col < len(titles):
                axis.set_title(titles[col], fontsize=9)
        if row_titles is not None:
            axes[row][0].set_ylabel(row_titles[row], fontsize=9)
    figure.tight_layout()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path)
    return path
