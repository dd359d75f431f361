"""Metric rows: per-threshold / per-level arrays stored packed (xai_eval.metrics.packing).

MaxBoxAcc's ``iou_all_per_threshold`` / ``iou_largest_per_threshold`` and PxAP's
``positive_histogram`` / ``negative_histogram`` were JSON lists, ~2/3 of a suite
database; new rows store them packed (exact bytes, deflated, base64). This data
migration rewrites the lists of existing rows the same way, so an old database shrinks
and its tables stay number for number (the arrays round-trip bit for bit; the metrics read
both forms anyway). Downgrade writes the lists back. No schema change.

On SQLite the file keeps its size until ``VACUUM`` (``sqlite3 run.db VACUUM``).

Revision ID: 0005_packed_metric_arrays
Revises: 0002_results
Create Date: 2026-12-02
"""
from __future__ import annotations

import base64
import json
import zlib
from collections.abc import Callable
from typing import Any

import numpy as np
import sqlalchemy as sa
from alembic import op

revision = "0005_packed_metric_arrays"
down_revision = "0002_results"
branch_labels = None
depends_on = None

#: the record keys holding per-threshold / per-level arrays (MaxBoxAcc, PxAP)
FLOAT_KEYS = ("iou_all_per_threshold", "iou_largest_per_threshold")
INT_KEYS = ("positive_histogram", "negative_histogram")
CHUNK = 2000

# The codec as of this revision (xai_eval.metrics.packing writes and reads the same
# format), kept here so the migration neither changes with the package nor imports torch.
_INT_TYPES = ("<u1", "<i1", "<u2", "<i2", "<u4", "<i4", "<u8", "<i8")


def pack(values: list[Any], floats: bool) -> dict[str, Any]:
    array = np.asarray(values, dtype=np.float64 if floats else np.int64)
    dtype = "<f8"
    if not floats:
        low, high = (int(array.min()), int(array.max())) if array.size else (0, 0)
        dtype = next(t for t in _INT_TYPES
                     if np.iinfo(np.dtype(t)).min <= low and high <= np.iinfo(np.dtype(t)).max)
    raw = np.ascontiguousarray(array, dtype=np.dtype(dtype)).tobytes()
    return {"packed": dtype, "shape": list(array.shape),
            "data": base64.b64encode(zlib.compress(raw, 9)).decode("ascii")}


def is_packed(value: Any) -> bool:
    return isinstance(value, dict) and "packed" in value and "data" in value


def unpack(value: dict[str, Any]) -> list[Any]:
    raw = zlib.decompress(base64.b64decode(value["data"], validate=True))
    array = np.frombuffer(raw, dtype=np.dtype(value["packed"])).reshape(value["shape"])
    return array.astype(np.int64 if value["packed"] in _INT_TYPES else np.float64).tolist()


_results = sa.table("metric_results", sa.column("id", sa.BigInteger()),
                    sa.column("values", sa.JSON()))


def _packed(values: dict[str, Any]) -> dict[str, Any] | None:
    changed = dict(values)
    for key in FLOAT_KEYS + INT_KEYS:
        value = values.get(key)
        if isinstance(value, list):
            changed[key] = pack(value, floats=key in FLOAT_KEYS)
    return changed if changed != values else None


def _unpacked(values: dict[str, Any]) -> dict[str, Any] | None:
    changed = dict(values)
    for key in FLOAT_KEYS + INT_KEYS:
        if is_packed(values.get(key)):
            changed[key] = unpack(values[key])
    return changed if changed != values else None


def _rewrite(convert: Callable[[dict[str, Any]], dict[str, Any] | None]) -> None:
    """Rewrite every row ``convert`` changes, in id order, a chunk at a time."""
    bind = op.get_bind()
    last = None
    while True:
        query = sa.select(_results.c.id, _results.c["values"]).order_by(_results.c.id).limit(CHUNK)
        if last is not None:
            query = query.where(_results.c.id > last)
        rows = bind.execute(query).all()
        if not rows:
            return
        last = rows[-1][0]
        updates = []
        for row_id, values in rows:
            if isinstance(values, str):  # a driver that hands JSON back as text
                values = json.loads(values)
            if isinstance(values, dict):
                changed = convert(values)
                if changed is not None:
                    updates.append({"row_id": row_id, "new_values": changed})
        if updates:
            bind.execute(_results.update().where(_results.c.id == sa.bindparam("row_id"))
                         .values(values=sa.bindparam("new_values", type_=sa.JSON())), updates)


def upgrade() -> None:
    _rewrite(_packed)


def downgrade() -> None:
    _rewrite(_unpacked)
