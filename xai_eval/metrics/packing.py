"""Compact, exact storage of the per-image arrays a metric record carries.

MaxBoxAcc keeps two per-threshold IoU curves per image and PxAP two per-level pixel
histograms, because the dataset score is a maximum / a precision-recall curve over sums
that only those arrays give exactly (:mod:`xai_eval.metrics.accumulate`). As JSON lists
they made up ~2/3 of the demo database (a float64 printed as ~19 characters, 200 of them
per MaxBoxAcc row). :func:`pack` stores an array as its little-endian bytes, zlib-deflated
and base64-encoded, in a small JSON object::

    {"packed": "<f8", "shape": [100], "data": "eJz..."}

The bytes are the array's own, so :func:`unpack` gives back exactly the same values (no
float printing or parsing in between). Integer arrays are stored in the smallest unsigned
or signed type that holds their range (histograms: ``<u2`` for maps up to 65,535 pixels
per bin). Deflate suits these arrays: the IoU curves repeat values over runs of
thresholds, histograms are mostly zeros. :func:`unpack` also reads plain lists, so
records stored before (and rows written by hand) aggregate unchanged.
"""

from __future__ import annotations

import base64
import zlib
from typing import Any

import numpy as np

from xai_eval.errors import InputValidationError

_INT_TYPES = ("<u1", "<i1", "<u2", "<i2", "<u4", "<i4", "<u8", "<i8")
_FLOAT_TYPES = ("<f8", "<f4")


def _storage_dtype(array: np.ndarray) -> str:
    if array.dtype.kind == "b":
        return "<u1"
    if array.dtype.kind in "iu":
        if array.size == 0:
            return "<u1"
        low, high = int(array.min()), int(array.max())
        for name in _INT_TYPES:
            info = np.iinfo(np.dtype(name))
            if info.min <= low and high <= info.max:
                return name
    if array.dtype.kind == "f":
        return "<f4" if array.dtype == np.float32 else "<f8"
    raise InputValidationError(f"cannot pack an array of dtype {array.dtype} (ints, bools or floats)")


def pack(values: Any) -> dict[str, Any]:
    """``values`` (an array or sequence of numbers) as a compact, exact JSON object.

    Floats keep their precision (float32 stays float32, everything else float64); ints
    are stored in the smallest type holding their range and come back as int64.
    """
    array = np.asarray(values)
    if array.dtype.kind == "f" and array.dtype not in (np.float32, np.float64):
        array = array.astype(np.float64)
    dtype = _storage_dtype(array)
    raw = np.ascontiguousarray(array, dtype=np.dtype(dtype)).tobytes()
    return {"packed": dtype, "shape": list(array.shape),
            "data": base64.b64encode(zlib.compress(raw, 9)).decode("ascii")}


def is_packed(value: Any) -> bool:
    """Whether ``value`` is an object written by :func:`pack`."""
    return isinstance(value, dict) and "packed" in value and "data" in value


def unpack(value: Any, dtype: Any = None) -> np.ndarray:
    """The array stored by :func:`pack`, or a plain list/array as one (old records).

    ``dtype`` converts the result (e.g. ``np.float64``); by default floats come back in
    their stored precision and integers as int64.
    """
    if not is_packed(value):
        return np.asarray(value, dtype=dtype)
    stored = value["packed"]
    if stored not in _INT_TYPES + _FLOAT_TYPES:
        raise InputValidationError(f"unknown packed array type {stored!r}")
    try:
        raw = zlib.decompress(base64.b64decode(value["data"], validate=True))
        shape = tuple(int(n) for n in value["shape"])
        array = np.frombuffer(raw, dtype=np.dtype(stored)).reshape(shape)
    except (ValueError, TypeError, zlib.error) as exc:
        raise InputValidationError(f"corrupt packed array ({stored}, shape "
                                   f"{value.get('shape')}): {exc}") from exc
    if dtype is None:
        dtype = np.int64 if stored in _INT_TYPES else np.dtype(stored).newbyteorder("=")
    return array.astype(dtype)


__all__ = ["is_packed", "pack", "unpack"]
