"""``load_model``: turn a model specification into a ready-to-explain network.

Every :class:`~xai_eval.models.base.ModelSource` plugin is asked whether it accepts the spec;
among those that do, the one with the lowest ``priority`` (default 100) loads it, so a
specific source (``embedded:gap``) wins over the generic import-path fallback
(``package.module:factory``, priority 1000) even though both match ``word:word``.
"""

from __future__ import annotations

import torch

from xai_eval.errors import InputValidationError, UnknownNameError
from xai_eval.models.base import LoadedModel, ModelSource
from xai_eval.plugins import Registries, default_registries

DEFAULT_PRIORITY = 100


def model_sources(registries: Registries | None = None) -> list[ModelSource]:
    """One instance of every registered model source, most specific (lowest priority) first."""
    registries = registries or default_registries()
    entries = [registries.get("models", name) for name in registries.names("models")]
    entries.sort(key=lambda entry: (getattr(entry.cls, "priority", DEFAULT_PRIORITY), entry.name))
    return [entry.cls() for entry in entries]


def load_model(spec: str, weights: str | None = None, device: str | torch.device = "cpu",
               registries: Registries | None = None) -> LoadedModel:
    """Load ``spec`` (e.g. ``"resnet50"``, ``"resnet50@/w.pth"``, ``"pkg.mod:factory"``).

    ``weights`` is a local file path, the same as writing ``spec@weights``. The network is
    returned in eval mode on ``device``, with its preprocessing and class names if known.
    Nothing is downloaded: a missing file raises
    :class:`~xai_eval.errors.MissingResourceError` saying what to fetch and where to put it.
    """
    if not isinstance(spec, str) or not spec.strip():
        raise InputValidationError(f"a model specification must be a non-empty string, not {spec!r}")
    spec = spec.strip()
    if weights is not None:
        if "@" in spec:
            raise InputValidationError(
                f"weights given twice: in the spec {spec!r} and as weights={weights!r}; use one")
        spec = f"{spec}@{weights}"
    sources = model_sources(registries)
    for source in sources:
        if source.accepts(spec):
            return source.load(spec, device=device)
    hints = [hint for source in sources if (hint := _suggestion(source, spec))]
    forms = "; ".join(
        f"{source.name} ({(type(source).__doc__ or '').strip().splitlines()[0].rstrip('.')})"
        for source in sources
    )
    raise UnknownNameError(
        f"no model source accepts {spec!r}" + (f" ({' '.join(hints)})" if hints else "")
        + f". Installed sources: {forms or 'none'}"
    )


def _suggestion(source: ModelSource, spec: str) -> str | None:
    """A source's optional ``suggest(spec)`` hint (a near-miss name, say)."""
    suggest = getattr(source, "suggest", None)
    return suggest(spec) if callable(suggest) else None
