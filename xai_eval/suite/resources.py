"""Turn suite entries into live objects: models, explainers, datasets, metrics.

Everything is resolved through the plugin registries passed in (tests pass their own), and
every dataset is opened before any work starts, so a missing path or a wrong format fails
at once with a message naming the suite entry.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

from xai_eval.data.base import Dataset
from xai_eval.errors import MissingResourceError, XaiEvalError
from xai_eval.metrics.base import Metric
from xai_eval.models.base import LoadedModel
from xai_eval.plugins import Registries
from xai_eval.suite.config import (
    DatasetEntry,
    ExplainerEntry,
    MetricEntry,
    ModelEntry,
    SuiteConfigError,
)


def load_model(entry: ModelEntry, registries: Registries, device: str = "cpu") -> LoadedModel:
    """Resolve ``entry.spec`` through the model-source plugins in ``registries``.

    With ``gapified: PATH`` the network is rebuilt by :func:`xai_eval.models.gapify.load_gapified`
    from the weights ``xai-eval gapify`` wrote, and explained at its ``cam_conv`` layer.
    """
    from xai_eval.models.loading import load_model as load_any

    loaded = load_any(entry.spec, weights=entry.weights, device=device, registries=registries)
    if entry.gapified:
        from xai_eval.models.gapify import load_gapified

        path = Path(entry.gapified).expanduser()
        if not path.is_file():
            raise MissingResourceError(
                f"model {entry.id!r}: gapified weights {path} do not exist; write them with "
                f"`xai-eval gapify --model {entry.spec} ... --out {path}`"
            )
        net = load_gapified(loaded.model, path).to(device)
        loaded = replace(loaded, name=f"{loaded.name}+gap", model=net, target_layer="cam_conv")
    loaded.model.eval()
    return loaded


def build_explainer(entry: ExplainerEntry, loaded: LoadedModel, model_entry: ModelEntry,
                    registries: Registries) -> Any:
    """Instantiate the explainer for one model (target layer: suite entry, else the source's)."""
    cls = registries.get("explainers", entry.name).cls
    layer = model_entry.target_layer or loaded.target_layer
    return cls(loaded.model, target_layer=layer, **entry.options)


def open_dataset(entry: DatasetEntry, registries: Registries, base_dir: Path | None = None
                 ) -> Dataset:
    """Open a dataset adapter, with a clear error when its files are missing or malformed."""
    cls = registries.get("datasets", entry.format).cls
    root: Any = entry.root
    if root is not None:
        path = Path(root).expanduser()
        if not path.is_absolute() and base_dir is not None:
            path = base_dir / path
        if not path.exists():
            raise MissingResourceError(
                f"dataset {entry.id!r}: root {path} does not exist; put the {entry.format} "
                "files there or fix `root:` in the suite"
            )
        root = path
    try:
        dataset = cls(root, **entry.options)
    except XaiEvalError as exc:
        raise type(exc)(f"dataset {entry.id!r} ({entry.format} at {root}): {exc}") from None
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise SuiteConfigError(
            f"dataset {entry.id!r}: cannot read {root} as format {entry.format!r}: "
            f"{type(exc).__name__}: {exc}"
        ) from None
    if len(dataset) == 0:
        raise SuiteConfigError(f"dataset {entry.id!r} ({entry.format} at {root}) has no images")
    return dataset


def build_metric(entry: MetricEntry, registries: Registries) -> Metric:
    return registries.get("metrics", entry.name).cls(**entry.params)


def metric_class(entry: MetricEntry, registries: Registries) -> type[Metric]:
    return registries.get("metrics", entry.name).cls


def needs_topk(metrics: list[MetricEntry], registries: Registries) -> bool:
    """Whether any metric needs the top-k classes' maps (localization error does)."""
    for entry in metrics:
        requires = getattr(metric_class(entry, registries), "requires", frozenset())
        if {"topk_saliency", "topk_classes"} & set(requires) or entry.name == "localization_error":
            return True
    return False
