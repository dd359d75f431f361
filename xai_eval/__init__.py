"""xai-eval: which visual explanation of my image classifier can I trust?

Public API::

    import xai_eval
    xai_eval.available_explainers()          # ['backprop', 'c_mwp', 'cam', ...]
    explainer = xai_eval.get_explainer("gradcam", model)
    maps = explainer(images, targets)        # (B, H, W) or (B, K, H, W)

Plugin authors import the marker from here: ``from xai_eval import hookimpl``.

Importing the package loads no torch: the names that need it (the explainer API and
classes) are resolved on first use by :func:`__getattr__`, so the database layer, the
hook specs, the web app and ``xai-eval --help`` start without paying for torch.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from xai_eval.hookspecs import hookimpl

__version__ = "0.1.0"

#: public name -> module that defines it (imported on first attribute access)
_LAZY = {
    "available_explainers": "xai_eval.api",
    "get_explainer": "xai_eval.api",
    "Explainer": "xai_eval.explain.base",
    "Explanation": "xai_eval.explain.base",
}

if TYPE_CHECKING:
    from xai_eval.api import available_explainers, get_explainer
    from xai_eval.explain.base import Explainer, Explanation


def __getattr__(name: str) -> Any:
    """Import the torch-needing public names on first access (PEP 562)."""
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'xai_eval' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY))


__all__ = [
    "Explainer",
    "Explanation",
    "__version__",
    "available_explainers",
    "get_explainer",
    "hookimpl",
]
