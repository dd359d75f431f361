"""A metric's additive state as a vector, so a bootstrap resample is one matrix product.

Every built-in metric keeps a state of sums (:mod:`xai_eval.metrics.accumulate`): the
state of a set of images is the sum of the images' states, and ``compute`` reads only the
state. So with one state vector per image (``S``, images × slots) and a resample's image
multiplicities (``C``, resamples × images), ``C @ S`` is every resample's state at once;
``compute`` then runs once per resample on the rebuilt state. This gives the same value
as re-aggregating the resampled records (a test checks it), at a fraction of the cost —
which is what makes an interval on every cell of the demo table affordable.

Metrics without an additive state (no ``absorb``) are wrapped by :class:`MeanState`,
the suite's default aggregation (the mean of each numeric value).
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import Any

import numpy as np

Path = tuple[str, ...]


class StateLayout:
    """Where each leaf of a (nested) state lives in the flat vector."""

    def __init__(self) -> None:
        self.slots: dict[Path, tuple[int, tuple[int, ...] | None]] = {}
        self.size = 0

    def register(self, state: dict[str, Any], prefix: Path = ()) -> None:
        """Add every leaf of ``state`` not seen yet (call for every image, then vectorise)."""
        for key, value in state.items():
            path = prefix + (str(key),)
            if isinstance(value, dict):
                self.register(value, path)
                continue
            if path in self.slots:
                continue
            shape = tuple(np.shape(value)) if isinstance(value, np.ndarray) else None
            self.slots[path] = (self.size, shape)
            self.size += int(np.prod(shape)) if shape else 1

    def vector(self, state: dict[str, Any]) -> np.ndarray:
        """The state's leaves in slot order; leaves it lacks are 0."""
        out = np.zeros(self.size)
        self._fill(out, state, ())
        return out

    def _fill(self, out: np.ndarray, state: dict[str, Any], prefix: Path) -> None:
        for key, value in state.items():
            path = prefix + (str(key),)
            if isinstance(value, dict):
                self._fill(out, value, path)
                continue
            start, shape = self.slots[path]
            if shape:
                out[start:start + int(np.prod(shape))] = np.asarray(value, dtype=float).ravel()
            else:
                out[start] = float(value)

    def build(self, vector: np.ndarray, template: dict[str, Any]) -> dict[str, Any]:
        """A state with the shape of the registered states and the vector's values.

        Per-class keys of classes no resampled image has come back as 0; the metrics'
        per-class means skip classes whose total is 0 (``class_mean``, ``mean_iou``).
        """
        state = _copy_containers(template)
        for path, (start, shape) in self.slots.items():
            node = state
            for key in path[:-1]:
                node = node.setdefault(key, {})
            if shape:
                node[path[-1]] = vector[start:start + int(np.prod(shape))].reshape(shape)
            else:
                node[path[-1]] = float(vector[start])
        return state


    def binder(self, template: dict[str, Any]) -> tuple[dict[str, Any], Any]:
        """``(state, fill)``: one state dict whose leaves ``fill(vector)`` overwrites in place.

        Rebuilding a nested dict per resample dominated the cost; ``compute`` only reads
        the state, so one dict reused for every resample is equivalent.
        """
        state = self.build(np.zeros(self.size), template)
        leaves = []
        for path, (start, shape) in self.slots.items():
            node = state
            for key in path[:-1]:
                node = node[key]
            leaves.append((node, path[-1], start, shape))
        scalars = [(node, key, start) for node, key, start, shape in leaves if not shape]
        arrays = [(node, key, start, start + int(np.prod(shape)), shape)
                  for node, key, start, shape in leaves if shape]

        def fill(vector: np.ndarray) -> dict[str, Any]:
            values = vector.tolist()
            for node, key, start in scalars:
                node[key] = values[start]
            for node, key, start, stop, shape in arrays:
                node[key] = vector[start:stop].reshape(shape)
            return state

        return state, fill


def _copy_containers(template: dict[str, Any]) -> dict[str, Any]:
    return {k: (_copy_containers(v) if isinstance(v, dict) else v) for k, v in template.items()}


class MeanState:
    """The default aggregation (:func:`xai_eval.suite.results.mean_values`) as a state."""

    def __init__(self) -> None:
        self.state: dict[str, Any] = {"sum": {}, "count": {}}

    def empty_state(self) -> dict[str, Any]:
        return {"sum": {}, "count": {}}

    def absorb(self, record: dict[str, Any], class_id: int | None) -> None:
        for key, value in record.items():
            if key in ("image_id", "class_id"):
                continue
            if isinstance(value, bool | int | float) and not (
                    isinstance(value, float) and math.isnan(value)):
                self.state["sum"][key] = self.state["sum"].get(key, 0.0) + float(value)
                self.state["count"][key] = self.state["count"].get(key, 0) + 1

    def compute(self) -> dict[str, Any]:
        sums, counts = self.state["sum"], self.state["count"]
        return {key: sums.get(key, 0.0) / counts[key] for key in counts if counts[key]}


class ClassificationState(MeanState):
    """Classification rows: top-1/top-5 error in percent, as the table shows them."""

    def compute(self) -> dict[str, Any]:
        means = super().compute()
        out: dict[str, Any] = {}
        for k in ("top1", "top5"):
            accuracy = means.get(f"{k}_correct")
            out[f"{k}_error"] = None if accuracy is None else 100.0 * (1.0 - accuracy)
        return out


def image_states(make: Any, records_by_image: dict[str, list[dict[str, Any]]],
                 images: Iterable[str]) -> tuple[StateLayout, np.ndarray, dict[str, Any]]:
    """(layout, images × slots matrix, empty template) of one metric's per-image states.

    ``make()`` returns a fresh accumulator (``absorb`` / ``state`` / ``empty_state``).
    """
    order = list(images)
    states = []
    layout = StateLayout()
    template = make().empty_state()
    layout.register(template)
    for image in order:
        accumulator = make()
        for record in records_by_image.get(image, ()):
            class_id = record.get("class_id")
            accumulator.absorb(record, None if class_id is None else int(class_id))
        layout.register(accumulator.state)
        states.append(accumulator.state)
    matrix = np.zeros((len(order), layout.size))
    for row, state in enumerate(states):
        matrix[row] = layout.vector(state)
    return layout, matrix, template


def compute_from_vector(make: Any, layout: StateLayout, vector: np.ndarray,
                        template: dict[str, Any]) -> dict[str, Any]:
    """``compute()`` of a fresh accumulator whose state is rebuilt from ``vector``."""
    accumulator = make()
    accumulator.state = layout.build(vector, template)
    return dict(accumulator.compute())


def compute_rows(make: Any, layout: StateLayout, vectors: np.ndarray,
                 template: dict[str, Any]) -> list[dict[str, Any]]:
    """``compute()`` for every row of ``vectors`` (one accumulator, one reused state)."""
    accumulator = make()
    state, fill = layout.binder(template)
    accumulator.state = state
    out = []
    for vector in vectors:
        fill(vector)
        out.append(dict(accumulator.compute()))
    return out
