"""Reading a local weights file and loading it strictly, with errors that say what to do.

xai-eval never downloads: every pretrained network comes from a file the user supplied.
These helpers turn the usual ways that goes wrong (no file, not a PyTorch file, a file for
another architecture, a checkpoint wrapped in a dict, keys prefixed by ``DataParallel``)
into messages that name the file and the fix.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

import torch
import torch.nn as nn

from xai_eval.errors import MissingResourceError, XaiEvalError

#: keys under which training scripts commonly nest the state dict in a checkpoint
CHECKPOINT_KEYS = ("state_dict", "model_state_dict", "model")


class WeightsMismatchError(XaiEvalError, ValueError):
    """A weights file does not fit the network it is loaded into (keys or shapes differ)."""


def read_state_dict(path: str | os.PathLike[str], what: str) -> dict[str, torch.Tensor]:
    """Load ``path`` as a state dict (tensors only, ``weights_only=True``: no code runs).

    ``what`` names the network in messages, e.g. ``"resnet50"``. A checkpoint dict holding
    the state dict under ``state_dict``/``model_state_dict``/``model`` is unwrapped, and a
    ``module.`` prefix on every key (a model saved inside ``DataParallel``) is removed.
    """
    path = Path(path).expanduser()
    if not path.exists():
        raise MissingResourceError(f"weights file {path} for {what} does not exist")
    if path.is_dir():
        raise MissingResourceError(
            f"weights path {path} for {what} is a folder; pass the .pth file itself")
    try:
        loaded = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:
        raise WeightsMismatchError(
            f"cannot read {path} as PyTorch weights for {what} ({type(exc).__name__}: "
            f"{str(exc).splitlines()[0] if str(exc) else ''}). Save them with "
            "torch.save(model.state_dict(), path); a pickled whole model or a truncated "
            "download is not accepted"
        ) from None
    state = _unwrap(loaded)
    if state is None:
        raise WeightsMismatchError(
            f"{path} holds a {type(loaded).__name__}, not a state dict of tensors for {what}; "
            "save it with torch.save(model.state_dict(), path)"
        )
    if state and all(key.startswith("module.") for key in state):
        state = {key.removeprefix("module."): value for key, value in state.items()}
    return state


def _unwrap(loaded: object) -> dict[str, torch.Tensor] | None:
    if not isinstance(loaded, Mapping):
        return None
    if loaded and all(isinstance(v, torch.Tensor) for v in loaded.values()):
        return dict(loaded)
    for key in CHECKPOINT_KEYS:
        inner = loaded.get(key)
        if isinstance(inner, Mapping) and all(isinstance(v, torch.Tensor) for v in inner.values()):
            return dict(inner)
    return None


def load_strict(model: nn.Module, state: Mapping[str, torch.Tensor], path: str | os.PathLike[str],
                what: str) -> None:
    """``model.load_state_dict(state, strict=True)`` with a message listing what differs."""
    expected = model.state_dict()
    missing = [key for key in expected if key not in state]
    unexpected = [key for key in state if key not in expected]
    resized = [f"{key} (file {tuple(state[key].shape)}, network {tuple(expected[key].shape)})"
               for key in expected if key in state and state[key].shape != expected[key].shape]
    if missing or unexpected or resized:
        parts = []
        for label, keys in (("missing", missing), ("unexpected", unexpected),
                            ("with other shapes", resized)):
            if keys:
                shown = ", ".join(keys[:4]) + (f", ... ({len(keys)} in all)" if len(keys) > 4 else "")
                parts.append(f"{label}: {shown}")
        raise WeightsMismatchError(
            f"{path} does not fit {what}: " + "; ".join(parts) + ". Is it the weights file of "
            "another architecture? The file must be the state dict of exactly this network"
        )
    model.load_state_dict(state, strict=True)
