"""Any network a Python factory builds: ``package.module:factory`` (``@/path/weights.pth``).

The factory is called without arguments and returns either an ``nn.Module`` (preprocessed
with the standard ImageNet transform: resize 256, centre crop 224, ImageNet mean/std) or a
complete :class:`~xai_eval.models.base.LoadedModel` when it knows better (its own transform,
class names, recommended layer). A weights path is loaded strictly into the module.
This source is the fallback: it answers only when no other source claims the spec.
"""

from __future__ import annotations

import importlib
import importlib.util
import re
from functools import reduce
from pathlib import Path
from typing import Any, ClassVar

import torch
import torch.nn as nn

from xai_eval.errors import InputValidationError, MissingResourceError, UnsupportedModelError
from xai_eval.models.base import LoadedModel, ModelSource
from xai_eval.models.weights import load_strict, read_state_dict

_SPEC = re.compile(r"^(?P<module>[A-Za-z_][\w.]*):(?P<attr>[A-Za-z_][\w.]*)(?:@(?P<weights>.+))?$")


def imagenet_preprocess() -> Any:
    """Resize 256, centre crop 224, to tensor, ImageNet mean/std (torchvision's classic recipe)."""
    from torchvision import transforms

    return transforms.Compose([
        transforms.Resize(256),
        transforms.CenterCrop(224),
        transforms.ToTensor(),
        transforms.Normalize(mean=[0.485, 0.456, 0.406], std=[0.229, 0.224, 0.225]),
    ])


def _module_exists(module: str) -> bool:
    try:
        return importlib.util.find_spec(module.split(".")[0]) is not None
    except (ImportError, ValueError):
        return False


class ImportPathSource(ModelSource):
    """A factory named by import path: 'package.module:factory' or '...:factory@/path/w.pth'.

    The factory returns an ``nn.Module`` (ImageNet preprocessing assumed) or a LoadedModel.
    """

    name: ClassVar[str] = "import_path"
    priority: ClassVar[int] = 1000  # the fallback: more specific sources answer first

    def accepts(self, spec: str) -> bool:
        match = _SPEC.match(spec.strip())
        return bool(match) and _module_exists(match["module"])

    def load(self, spec: str, device: str | torch.device = "cpu") -> LoadedModel:
        match = _SPEC.match(spec.strip())
        if match is None:
            raise InputValidationError(
                f"{spec!r} is not an import path; write package.module:factory[@weights.pth]")
        factory = self._factory(match["module"], match["attr"])
        built = factory()
        if isinstance(built, LoadedModel):
            loaded = built
        elif isinstance(built, nn.Module):
            loaded = LoadedModel(name=f"{match['module']}:{match['attr']}", model=built,
                                 preprocess=imagenet_preprocess())
        else:
            raise UnsupportedModelError(
                f"{match['module']}:{match['attr']}() returned {type(built).__name__}; a model "
                "factory must return a torch.nn.Module or a xai_eval.models.base.LoadedModel")
        if match["weights"]:
            path = Path(match["weights"]).expanduser()
            if not path.exists():
                raise MissingResourceError(
                    f"weights file {path} for {loaded.name} does not exist; save the trained "
                    f"network there with torch.save(model.state_dict(), '{path}')")
            load_strict(loaded.model, read_state_dict(path, loaded.name), path, loaded.name)
            loaded.name = f"{loaded.name}@{path}"
        loaded.model = loaded.model.to(device).eval()
        return loaded

    @staticmethod
    def _factory(module_name: str, attr: str) -> Any:
        try:
            module = importlib.import_module(module_name)
        except ImportError as exc:
            raise UnsupportedModelError(
                f"cannot import {module_name!r} for model factory {module_name}:{attr} "
                f"({type(exc).__name__}: {exc}); is the package installed?") from None
        try:
            factory = reduce(getattr, attr.split("."), module)
        except AttributeError:
            public = sorted(n for n, v in vars(module).items() if callable(v) and not n.startswith("_"))
            raise UnsupportedModelError(
                f"module {module_name!r} has no {attr!r}; its callables are: "
                f"{', '.join(public) or 'none'}") from None
        if not callable(factory):
            raise UnsupportedModelError(f"{module_name}:{attr} is not callable")
        return factory
