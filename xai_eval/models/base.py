"""Model sources: resolve a model specification into a network plus its preprocessing.

Specifications (resolved by the first :class:`ModelSource` plugin that accepts them):

- ``resnet50@/path/weights.pth`` — a torchvision architecture with a local weights file;
- ``package.module:factory`` — any importable factory returning an ``nn.Module``;
- ``embedded:gap`` / ``embedded:fc`` — the embedded benchmark's trained classifiers;
- ``efficientnet_lite0`` — real ImageNet weights from the optional ``[real]`` extra.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, ClassVar

import torch
import torch.nn as nn


@dataclass
class LoadedModel:
    """A ready-to-explain network (eval mode) and how to turn a PIL image into its input."""

    name: str
    model: nn.Module
    preprocess: Callable[[Any], torch.Tensor]  # PIL.Image -> (3, H, W) float tensor
    classes: list[str] | None = None
    input_size: tuple[int, int] = (224, 224)
    target_layer: str | None = None  # a recommended CAM layer, if the source knows one


class ModelSource:
    """Base class of model-source plugins."""

    name: ClassVar[str] = ""

    def accepts(self, spec: str) -> bool:
        raise NotImplementedError

    def load(self, spec: str, device: str | torch.device = "cpu") -> LoadedModel:
        raise NotImplementedError
