"""Helpers that write tiny images for the dataset-format tests."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from PIL import Image


@pytest.fixture
def write_image() -> Callable[..., Path]:
    """write_image(path, width, height, fmt=None) -> path: a small seeded RGB image."""

    def write(path: Path, width: int, height: int, fmt: str | None = None) -> Path:
        path.parent.mkdir(parents=True, exist_ok=True)
        rng = np.random.default_rng(width * 1000 + height)
        pixels = rng.integers(0, 256, size=(height, width, 3), dtype=np.uint8)
        Image.fromarray(pixels).save(path, format=fmt)
        return path

    return write


@pytest.fixture
def write_corrupt_jpeg() -> Callable[[Path], Path]:
    """write_corrupt_jpeg(path) -> path: a JPEG cut off in the middle of its scan data."""

    def write(path: Path) -> Path:
        path.parent.mkdir(parents=True, exist_ok=True)
        rng = np.random.default_rng(7)
        pixels = rng.integers(0, 256, size=(32, 32, 3), dtype=np.uint8)
        Image.fromarray(pixels).save(path, format="JPEG")
        data = path.read_bytes()
        path.write_bytes(data[: len(data) // 2])
        return path

    return write
