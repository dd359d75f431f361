"""xai-eval: which visual explanation of my image classifier can I trust?

Public API::

    import xai_eval
    xai_eval.available_explainers()          # ['backprop', 'c_mwp', 'cam', ...]
    explainer = xai_eval.get_explainer("gradcam", model)
    maps = explainer(images, targets)        # (B, H, W) or (B, K, H, W)

Plugin authors import the marker from here: ``from xai_eval import hookimpl``.
"""

from __future__ import annotations

import pluggy

__version__ = "0.1.0"

hookimpl = pluggy.HookimplMarker("xai_eval")

from xai_eval.api import available_explainers, get_explainer  # noqa: E402
from xai_eval.explain.base import Explainer, Explanation  # noqa: E402

__all__ = [
    "Explainer",
    "Explanation",
    "__version__",
    "available_explainers",
    "get_explainer",
    "hookimpl",
]
