"""The small public API: list explainers, build one by name."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from xai_eval.plugins import Registries, default_registries

if TYPE_CHECKING:  # torch only for the annotations; building an explainer imports it anyway
    import torch.nn as nn


def available_explainers(registries: Registries | None = None) -> list[str]:
    """Names of every explainer the installed plugins register, sorted."""
    return (registries or default_registries()).names("explainers")


def get_explainer(
    name: str,
    model: nn.Module,
    target_layer: str | nn.Module | None = None,
    registries: Registries | None = None,
    **options: Any,
):
    """Build the explainer registered as ``name`` for ``model``.

    ``target_layer`` is a module, a dotted name (``"layer4"``, ``"features.28"``) or ``None``
    for the automatic choice; methods that work on the input ignore it. ``options`` are the
    method's own parameters (see ``xai-eval plugins --verbose``); an unknown option is an error.
    """
    registries = registries or default_registries()
    entry = registries.get("explainers", name)
    if getattr(entry.cls, "composes_explainers", False):
        # a composition (guided_gradcam) finds its parts in these same registries
        options = {**options, "registries": registries}
    return entry.cls(model, target_layer=target_layer, **options)
