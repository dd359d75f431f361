"""Exact accumulation for metric classes: per-image records that add up to the score.

Every built-in metric splits :meth:`Metric.update` in two:

- ``score(sample) -> record``: the per-image values (JSON-serialisable; lists only where a
  sweep needs them, e.g. MaxBoxAcc's per-threshold IoUs) — what the suite runner stores;
- ``absorb(record, class_id)``: add a record to the state, which is only sums (counts,
  histograms, per-class totals), never a running mean of per-image maxima.

Hence ``aggregate(records)`` — records as stored, with their ``class_id`` — rebuilds the
state and gives exactly what ``update``/``compute`` gave in one pass: the suite runner
computes its tables from the database this way, so a resumed or sharded run matches an
uninterrupted one. :meth:`CountingMetric.merge` adds two states (per-batch metrics combine
exactly); :meth:`CountingMetric.state_dict` / :meth:`CountingMetric.load_state_dict`
checkpoint the state as JSON.

State values are numbers, numpy arrays, or dicts of those keyed by ``str`` (e.g. the class
id), merged key by key.
"""

from __future__ import annotations

import copy
from typing import Any

import numpy as np
import torch

from xai_eval.errors import InputValidationError
from xai_eval.metrics import device
from xai_eval.metrics.base import Metric, MetricSample
from xai_eval.metrics.shapes import as_saliency


def _add(a: Any, b: Any) -> Any:
    if isinstance(a, dict):
        out = dict(a)
        for key, value in b.items():
            out[key] = _add(out[key], value) if key in out else copy.deepcopy(value)
        return out
    return a + b


def _to_json(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _to_json(v) for k, v in value.items()}
    if isinstance(value, np.ndarray):
        return {"__array__": value.tolist(), "dtype": str(value.dtype)}
    if isinstance(value, np.generic):
        return value.item()
    return value


def _from_json(value: Any) -> Any:
    if isinstance(value, dict):
        if "__array__" in value:
            return np.asarray(value["__array__"], dtype=value["dtype"])
        return {k: _from_json(v) for k, v in value.items()}
    return value


def _is_empty(value: Any) -> bool:
    if value is None:
        return True
    if isinstance(value, torch.Tensor):
        return value.numel() == 0
    if isinstance(value, list | tuple | dict):
        return len(value) == 0
    return False


class CountingMetric(Metric):
    """A :class:`Metric` whose state is a dict of additive counts (see the module docstring).

    Subclasses implement :meth:`empty_state`, ``update`` (adding to ``self.state``) and
    ``compute`` (reading only ``self.state``).
    """

    def empty_state(self) -> dict[str, Any]:
        """The state before any sample."""
        raise NotImplementedError

    def score(self, sample: MetricSample) -> dict[str, Any]:
        """The per-image record of one sample (no state change)."""
        raise NotImplementedError

    def absorb(self, record: dict[str, Any], class_id: int | None) -> None:
        """Add one record (as returned by :meth:`score`, or read back from storage)."""
        raise NotImplementedError

    def reset(self) -> None:
        self.state: dict[str, Any] = self.empty_state()

    def update(self, sample: MetricSample) -> dict[str, Any]:
        """Score one sample, add it to the state, return its record."""
        self.check_requires(sample)
        record = self.score(sample)
        self.absorb(record, int(sample.gt_class))
        return record

    def aggregate(self, records: list[dict[str, Any]]) -> dict[str, Any]:
        """The score of stored records (each with its ``class_id``), exactly as ``compute``
        would give after updating with the same samples. This instance is not changed."""
        fresh = type(self)(**self.config)
        for record in records:
            class_id = record.get("class_id")
            fresh.absorb(record, None if class_id is None else int(class_id))
        return fresh.compute()

    def merge(self, other: CountingMetric) -> CountingMetric:
        """Add ``other``'s accumulated state to this one (same class and parameters)."""
        if type(other) is not type(self) or other.config != self.config:
            raise InputValidationError(
                f"cannot merge {type(other).__name__}({other.config}) into "
                f"{type(self).__name__}({self.config}): class and parameters must match"
            )
        self.state = _add(self.state, other.state)
        return self

    def state_dict(self) -> dict[str, Any]:
        """The accumulated state as JSON-serialisable data."""
        return _to_json(self.state)

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Replace the accumulated state with one from :meth:`state_dict`."""
        self.state = _from_json(copy.deepcopy(state))

    def check_requires(self, sample: MetricSample) -> None:
        """Raise a clear error when a field in ``requires`` is missing from the sample."""
        missing = sorted(f for f in self.requires if _is_empty(getattr(sample, f, None)))
        if missing:
            raise InputValidationError(
                f"metric {self.name!r} needs sample field(s) {missing} (image {sample.image_id!r}); "
                "the dataset or suite does not provide them — drop the metric or add the data"
            )

    def count(self, key: str, amount: float = 1) -> None:
        """Add ``amount`` to the scalar counter ``key``."""
        self.state[key] = self.state.get(key, 0) + amount


def ratio(numerator: float, denominator: float) -> float | None:
    """numerator / denominator, or None when nothing was counted (never NaN)."""
    return None if denominator == 0 else float(numerator) / float(denominator)


def class_mean(hits: dict[str, float], totals: dict[str, float]) -> float | None:
    """Mean over classes of hits/total, over classes with at least one sample."""
    values = [hits.get(c, 0) / totals[c] for c in totals if totals[c] > 0]
    return float(np.mean(values)) if values else None


def frame_size(sample: MetricSample) -> tuple[int, int] | None:
    """The (H, W) of the image frame boxes and masks live in: the image's, else the mask's."""
    if sample.image is not None:
        return tuple(sample.image.shape[-2:])
    if sample.gt_mask is not None:
        return tuple(np.shape(sample.gt_mask)[-2:])
    return None


def saliency_in_frame(sample: MetricSample, saliency: Any, on_size_mismatch: str) -> np.ndarray:
    """``saliency`` as an (H, W) array in the sample's image frame: resized bilinearly when
    its size differs, or refused (``on_size_mismatch="error"``); boxes are only meaningful
    in that frame. A map on an accelerator stays there (:mod:`xai_eval.metrics.device`)."""
    if device.on_accelerator(saliency):
        return device.device_saliency(saliency, frame_size(sample), on_size_mismatch)
    return as_saliency(saliency, frame_size(sample), on_size_mismatch)


def as_module(model: Any) -> torch.nn.Module:
    """The ``nn.Module`` in a sample's ``model`` (a module or a LoadedModel)."""
    module = getattr(model, "model", model)
    if not isinstance(module, torch.nn.Module):
        raise InputValidationError(
            f"sample.model must be a torch.nn.Module (or a LoadedModel), not {type(model).__name__}"
        )
    return module
