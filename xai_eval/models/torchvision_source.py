"""Torchvision classification architectures with a *local* weights file.

Specification: ``name`` or ``name@/path/to/weights.pth`` (``name`` is any model of
``torchvision.models.list_models(module=torchvision.models)``; ``name@random`` keeps the
random initialisation, for sanity checks and benchmarks). Nothing is ever downloaded:

- with a path, that file is loaded strictly;
- with a bare name, torchvision's own cache (``$TORCH_HOME/hub/checkpoints/<file>``,
  where ``torchvision`` itself would have put a download) is searched for the official
  file name, e.g. ``resnet50-11ad3fa6.pth``; if it is not there the error says which file
  to fetch, from where, and where to put it.

The network is built with ``get_model(name, weights=None)`` and the constructor arguments
torchvision itself uses for pretrained weights (GoogLeNet/Inception-v3 normalise their input
with ``transform_input=True``; ViT/MaxViT take their image size from the weights' metadata),
so a torchvision weights file behaves exactly as ``get_model(name, weights=...)`` would.
The number of classes is read from the file, so fine-tuned heads (e.g. 20 VOC classes) load.
Preprocessing is the weights enum's ``transforms()`` and the class names its
``meta["categories"]`` — metadata that ships inside torchvision.
"""

from __future__ import annotations

import math
import os
from functools import lru_cache
from pathlib import Path
from typing import Any, ClassVar

import torch
import torch.nn as nn

from xai_eval.errors import MissingResourceError, UnsupportedModelError
from xai_eval.models.base import LoadedModel, ModelSource
from xai_eval.models.weights import load_strict, read_state_dict

RANDOM = "random"

# torchvision is imported inside the functions: importing it costs seconds, and this module
# is loaded with the plugins by every command, most of which never build a torchvision net.

#: auxiliary-classifier modules that torchvision drops after loading pretrained weights
_AUX_PREFIXES = {"googlenet": ("aux1.", "aux2."), "inception_v3": ("AuxLogits.",)}


@lru_cache(maxsize=1)
def classification_models() -> frozenset[str]:
    """Names of torchvision's image-classification builders."""
    import torchvision

    return frozenset(torchvision.models.list_models(module=torchvision.models))


def weights_file_name(weights: Any) -> str:
    """The file name torchvision downloads a weights enum member to (e.g. resnet50-0676ba61.pth)."""
    return weights.url.rsplit("/", 1)[-1]


def hub_checkpoint_dir() -> Path:
    """Where torchvision caches downloaded weights (``$TORCH_HOME/hub/checkpoints``)."""
    return Path(torch.hub.get_dir()) / "checkpoints"


def split_spec(spec: str) -> tuple[str, str | None]:
    """``"name@path"`` -> ``("name", "path")``; ``"name"`` -> ``("name", None)``."""
    name, sep, weights = spec.partition("@")
    return name.strip(), (weights.strip() or None) if sep else None


def missing_weights_message(name: str, path: Path | None) -> str:
    """What to download, from where, and where to put it (xai-eval itself never downloads)."""
    from torchvision.models import get_model_weights

    enum = get_model_weights(name)
    default = enum.DEFAULT
    file_name = weights_file_name(default)
    cache = hub_checkpoint_dir() / file_name
    others = [f"{member.name} -> {weights_file_name(member)}" for member in enum if member != default]
    head = (f"weights file {path} for {name} does not exist. " if path is not None else
            f"{name}: pretrained weights must be supplied as a local file; xai-eval never "
            "downloads. ")
    return (
        head
        + f"Get torchvision's {enum.__name__}.{default.name} weights, {file_name}, from "
        f"{default.url} on a machine with internet access, then either put the file at "
        f"{cache} (torchvision's cache, found automatically for a bare '{name}') or pass its "
        f"path: --weights /path/{file_name} on the command line, "
        f"load_model('{name}', weights='/path/{file_name}') or the spec '{name}@/path/{file_name}'."
        + (f" Other weights for {name}: {'; '.join(others)}." if others else "")
        + f" For an untrained network (sanity checks, benchmarks) use '{name}@{RANDOM}'."
    )


def _vit_image_size(state: dict[str, torch.Tensor] | None) -> int | None:
    """A ViT state dict's input size: its position embeddings cover (size / patch)^2 + 1 tokens."""
    if not state or "encoder.pos_embedding" not in state or "conv_proj.weight" not in state:
        return None
    tokens = state["encoder.pos_embedding"].shape[1] - 1
    grid = math.isqrt(tokens)
    return grid * state["conv_proj.weight"].shape[-1] if grid * grid == tokens else None


def _matching_weights(name: str, path: Path | None,
                      state: dict[str, torch.Tensor] | None = None) -> Any:
    """The weights enum member the file belongs to: by official file name, else (ViT) by
    input size, else the default. Its transforms and class names describe the file."""
    from torchvision.models import get_model_weights

    enum = get_model_weights(name)
    if path is not None:
        for member in enum:
            if weights_file_name(member) == path.name:
                return member
    size = _vit_image_size(state)
    if size is not None and enum.DEFAULT.meta["min_size"][0] != size:
        for member in enum:
            if member.meta["min_size"][0] == size:
                return member
    return enum.DEFAULT


def _builder_kwargs(name: str, weights: Any, state: dict[str, torch.Tensor] | None
                    ) -> dict[str, Any]:
    """Constructor arguments torchvision uses for pretrained weights (see its builders)."""
    kwargs: dict[str, Any] = {}
    if name.startswith("vit_"):
        kwargs["image_size"] = _vit_image_size(state) or weights.meta["min_size"][0]
    if name == "maxvit_t":
        kwargs["input_size"] = weights.meta["min_size"]
    if state is not None and name in _AUX_PREFIXES:
        has_aux = any(key.startswith(_AUX_PREFIXES[name]) for key in state)
        kwargs.update(transform_input=True, aux_logits=has_aux, init_weights=False)
    return kwargs


def _file_num_classes(model: nn.Module, state: dict[str, torch.Tensor], default: int) -> int | None:
    """The class count of a fine-tuned head: every tensor whose shape differs from the
    network's must differ only in a leading ``default`` (the classifier, aux heads included)."""
    expected = model.state_dict()
    sizes = set()
    for key, tensor in state.items():
        ref = expected.get(key)
        if ref is None or ref.shape == tensor.shape:
            continue
        if ref.dim() == 0 or ref.shape[0] != default or ref.shape[1:] != tensor.shape[1:]:
            return None
        sizes.add(int(tensor.shape[0]))
    return sizes.pop() if len(sizes) == 1 else None


def build_torchvision_model(name: str, path: Path | None) -> tuple[nn.Module, Any, int]:
    """The network with ``path``'s weights (or random ones), its weights enum member and
    its number of classes."""
    from torchvision.models import get_model

    state = read_state_dict(path, name) if path is not None else None
    weights = _matching_weights(name, path, state)
    categories = len(weights.meta["categories"])
    kwargs = _builder_kwargs(name, weights, state)
    model = get_model(name, weights=None, **kwargs)
    num_classes = categories
    if state is not None:
        fine_tuned = _file_num_classes(model, state, categories)
        if fine_tuned is not None and fine_tuned != categories:
            num_classes = fine_tuned
            model = get_model(name, weights=None, num_classes=num_classes, **kwargs)
        load_strict(model, state, path, name)
        if name == "googlenet" and kwargs.get("aux_logits"):
            # as torchvision does for pretrained GoogLeNet: the aux heads only serve training
            model.aux_logits = False
            model.aux1 = None
            model.aux2 = None
    return model, weights, num_classes


class TorchvisionSource(ModelSource):
    """Torchvision classifiers: 'resnet50', 'resnet50@/path/w.pth' or 'resnet50@random'.

    Weights come only from a local file (or torchvision's cache folder); preprocessing and
    class names from torchvision's weights metadata.
    """

    name: ClassVar[str] = "torchvision"
    priority: ClassVar[int] = 100

    def accepts(self, spec: str) -> bool:
        return split_spec(spec)[0] in classification_models()

    def suggest(self, spec: str) -> str | None:
        """A hint for a spec no source accepted: a near-miss name or a non-classifier."""
        import difflib

        from torchvision.models import list_models

        name = split_spec(spec)[0]
        if name in list_models():
            return (f"{name!r} is a torchvision model but not an image classifier; the "
                    "torchvision source loads classification models only")
        close = difflib.get_close_matches(name, sorted(classification_models()), n=3)
        return f"did you mean {', '.join(map(repr, close))}?" if close else None

    def load(self, spec: str, device: str | torch.device = "cpu") -> LoadedModel:
        name, weights_arg = split_spec(spec)
        if name not in classification_models():
            raise UnsupportedModelError(
                f"{name!r} is not a torchvision classification model; choose one of "
                f"torchvision.models.list_models(module=torchvision.models)")
        path = self._resolve_path(name, weights_arg)
        model, weights, num_classes = build_torchvision_model(name, path)
        transforms = weights.transforms()
        crop = getattr(transforms, "crop_size", [224])
        categories = list(weights.meta["categories"])
        return LoadedModel(
            name=name if path is None else f"{name}@{path}",
            model=model.to(device).eval(),
            preprocess=transforms,
            classes=categories if num_classes == len(categories) else None,
            input_size=(crop[0], crop[-1]),
        )

    @staticmethod
    def _resolve_path(name: str, weights_arg: str | None) -> Path | None:
        if weights_arg == RANDOM:
            return None
        if weights_arg is not None:
            path = Path(os.path.expandvars(weights_arg)).expanduser()
            if not path.exists():
                raise MissingResourceError(missing_weights_message(name, path))
            return path
        from torchvision.models import get_model_weights

        enum = get_model_weights(name)
        for member in [enum.DEFAULT, *enum]:
            cached = hub_checkpoint_dir() / weights_file_name(member)
            if cached.is_file():
                return cached
        raise MissingResourceError(missing_weights_message(name, None))
