"""Dataset adapters: every format yields the same :class:`DatasetItem` records.

Adapters are plugins (``xai_eval_register_datasets``) keyed by their format ``name``
(``coco``, ``voc``, ``ilsvrc``, ``folder_csv``, ``embedded``). Nothing is downloaded: a
missing dataset raises :class:`~xai_eval.errors.MissingResourceError` saying where the
files must be.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from xai_eval.errors import XaiEvalError


class CorruptImageError(XaiEvalError, ValueError):
    """An image file could not be decoded; runs skip it and record why."""


@dataclass
class Annotation:
    """One object: its class index, xyxy pixel box, PASCAL 'difficult' flag, optional mask."""

    class_id: int
    box: tuple[float, float, float, float]
    difficult: bool = False
    mask: np.ndarray | None = None  # (height, width) bool in the original image frame


@dataclass
class DatasetItem:
    """One image with its annotations, in the original image's pixel frame."""

    image_id: str
    path: Path
    width: int
    height: int
    annotations: list[Annotation] = field(default_factory=list)
    extras: dict[str, Any] = field(default_factory=dict)  # e.g. TorchRay difficult flags

    def load_image(self):  # -> PIL.Image.Image
        """Decode the image as RGB, or raise :class:`CorruptImageError` naming the file."""
        from PIL import Image, UnidentifiedImageError

        try:
            with Image.open(self.path) as img:
                return img.convert("RGB")
        except (OSError, UnidentifiedImageError, ValueError) as exc:
            raise CorruptImageError(f"cannot decode image {self.path}: {exc}") from None

    def classes_present(self) -> tuple[int, ...]:
        return tuple(sorted({a.class_id for a in self.annotations}))


class Dataset:
    """Base class of dataset adapters: sized, indexable, iterable over DatasetItems."""

    name: ClassVar[str] = ""

    def __init__(self, root: str | Path, **options: Any) -> None:
        self.root = Path(root)
        self.options = options
        self.classes: list[str] = []

    def __len__(self) -> int:
        raise NotImplementedError

    def __getitem__(self, index: int) -> DatasetItem:
        raise NotImplementedError

    def __iter__(self) -> Iterator[DatasetItem]:
        for index in range(len(self)):
            yield self[index]
