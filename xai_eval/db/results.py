"""Tables of metric-suite runs: one row per (image, class, metric), written as it is produced.

Keys are designed for many writers on one database (torchrun ranks, shards on several
machines): a run is identified by a hash of its resolved configuration (plus a user-given
name), and every per-image row is unique on
``(run_id, model, explainer, dataset, metric, image_id, class_id)``. Rows are inserted
with ``INSERT ... ON CONFLICT DO NOTHING`` (:func:`insert_ignore`), so a retried or
duplicated write is harmless and two workers never collide.

A *unit* — one (model, explainer, dataset, image) — is complete when its row in
``run_units`` exists; that row is written in the same transaction as the unit's metric
rows, so ``--resume`` never sees half a unit.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timezone
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    DateTime,
    ForeignKey,
    Integer,
    String,
    Table,
    Text,
    UniqueConstraint,
)
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Mapped, Session, mapped_column

from xai_eval.db.base import Base

#: An auto-increment 64-bit key on PostgreSQL that is still SQLite's ROWID alias.
BigId = BigInteger().with_variant(Integer(), "sqlite")

#: Length limits of the key columns (image ids can be relative paths).
NAME_LEN = 200
IMAGE_ID_LEN = 500


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


class Run(Base):
    """One suite run: its identity (config hash + name), configuration and progress."""

    __tablename__ = "runs"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    name: Mapped[str] = mapped_column(String(NAME_LEN))
    config_hash: Mapped[str] = mapped_column(String(64), index=True)
    config: Mapped[dict[str, Any]] = mapped_column(JSON)
    total_units: Mapped[int | None] = mapped_column(Integer, nullable=True)
    xai_eval_version: Mapped[str] = mapped_column(String(32))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    completed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)


class RunUnit(Base):
    """A completed (model, explainer, dataset, image) unit of a run: what ``--resume`` skips.

    ``explainer`` is ``""`` for the model-level unit (the classification forward pass).
    """

    __tablename__ = "run_units"
    __table_args__ = (
        UniqueConstraint("run_id", "model", "explainer", "dataset", "image_id",
                         name="uq_run_units_key"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    run_id: Mapped[str] = mapped_column(ForeignKey("runs.id", ondelete="CASCADE"))
    model: Mapped[str] = mapped_column(String(NAME_LEN))
    explainer: Mapped[str] = mapped_column(String(NAME_LEN))
    dataset: Mapped[str] = mapped_column(String(NAME_LEN))
    image_id: Mapped[str] = mapped_column(String(IMAGE_ID_LEN))
    worker: Mapped[str] = mapped_column(String(NAME_LEN), default="")
    finished_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class MetricResult(Base):
    """The per-image values one metric returned for one (image, class)."""

    __tablename__ = "metric_results"
    __table_args__ = (
        UniqueConstraint("run_id", "model", "explainer", "dataset", "metric", "image_id",
                         "class_id", name="uq_metric_results_key"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    run_id: Mapped[str] = mapped_column(ForeignKey("runs.id", ondelete="CASCADE"))
    model: Mapped[str] = mapped_column(String(NAME_LEN))
    explainer: Mapped[str] = mapped_column(String(NAME_LEN))
    dataset: Mapped[str] = mapped_column(String(NAME_LEN))
    metric: Mapped[str] = mapped_column(String(NAME_LEN))
    image_id: Mapped[str] = mapped_column(String(IMAGE_ID_LEN))
    class_id: Mapped[int] = mapped_column(Integer)
    values: Mapped[dict[str, Any]] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class SkippedImage(Base):
    """Something the run could not score, and why (never a crash).

    An image that fails to decode has ``model = explainer = ""``; an explainer that cannot
    work with a model (CAM without a GAP head) has ``image_id = "*"``; an explainer that
    fails on one image has all four set.
    """

    __tablename__ = "skipped_images"
    __table_args__ = (
        UniqueConstraint("run_id", "model", "explainer", "dataset", "image_id",
                         name="uq_skipped_images_key"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    run_id: Mapped[str] = mapped_column(ForeignKey("runs.id", ondelete="CASCADE"))
    model: Mapped[str] = mapped_column(String(NAME_LEN), default="")
    explainer: Mapped[str] = mapped_column(String(NAME_LEN), default="")
    dataset: Mapped[str] = mapped_column(String(NAME_LEN))
    image_id: Mapped[str] = mapped_column(String(IMAGE_ID_LEN))
    reason: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class MetricWarning(Base):
    """The first warning a metric raised on a dataset in a run (once per (metric, dataset)).

    Metrics warn about protocol choices they had to make (a degenerate map, a resized
    mask); the run records the first message per (metric, dataset) instead of silencing
    them, and the report lists them.
    """

    __tablename__ = "metric_warnings"
    __table_args__ = (
        UniqueConstraint("run_id", "dataset", "metric", name="uq_metric_warnings_key"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    run_id: Mapped[str] = mapped_column(ForeignKey("runs.id", ondelete="CASCADE"))
    dataset: Mapped[str] = mapped_column(String(NAME_LEN))
    metric: Mapped[str] = mapped_column(String(NAME_LEN))
    message: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


#: The column tuple of each table's unique key (the ON CONFLICT target).
UNIQUE_KEYS: dict[str, tuple[str, ...]] = {
    "runs": ("id",),
    "run_units": ("run_id", "model", "explainer", "dataset", "image_id"),
    "metric_results": ("run_id", "model", "explainer", "dataset", "metric", "image_id",
                       "class_id"),
    "skipped_images": ("run_id", "model", "explainer", "dataset", "image_id"),
    "metric_warnings": ("run_id", "dataset", "metric"),
}

RESULT_TABLES = ("runs", "run_units", "metric_results", "skipped_images", "metric_warnings")


def insert_ignore(session: Session, model: type[Base], rows: Sequence[dict[str, Any]]) -> None:
    """Insert ``rows``, silently keeping any row whose unique key already exists.

    PostgreSQL and SQLite use their native ``INSERT ... ON CONFLICT DO NOTHING``; any other
    dialect falls back to one savepoint per row, so the semantics are the same everywhere.
    """
    if not rows:
        return
    table: Table = model.__table__  # type: ignore[assignment]
    now = utcnow()
    prepared = [_with_defaults(table, row, now) for row in rows]
    dialect = session.get_bind().dialect.name
    if dialect in ("postgresql", "sqlite"):
        if dialect == "postgresql":
            from sqlalchemy.dialects.postgresql import insert
        else:
            from sqlalchemy.dialects.sqlite import insert
        statement = insert(table).on_conflict_do_nothing(
            index_elements=list(UNIQUE_KEYS[table.name])
        )
        session.execute(statement, prepared)
        return
    for row in prepared:  # pragma: no cover - other dialects
        try:
            with session.begin_nested():
                session.execute(table.insert(), [row])
        except IntegrityError:
            pass


def _with_defaults(table: Table, row: dict[str, Any], now: datetime) -> dict[str, Any]:
    """Fill the Python-side defaults a Core insert of a dict list would not apply per row."""
    out = dict(row)
    for column in ("created_at", "finished_at"):
        if column in table.c and column not in out:
            out[column] = now
    if "worker" in table.c and "worker" not in out:
        out["worker"] = ""
    for column in ("model", "explainer"):
        if table.name == "skipped_images" and column not in out:
            out[column] = ""
    return out
