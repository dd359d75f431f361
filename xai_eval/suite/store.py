"""Reading and writing one run's rows: creation, completed units, skips, stored results.

All queries filter on ``run_id``, so two runs in one database never mix.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timezone
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session, sessionmaker

from xai_eval import __version__
from xai_eval.db.base import session_scope
from xai_eval.db.results import (
    MetricResult,
    MetricWarning,
    Run,
    RunUnit,
    SkippedImage,
    insert_ignore,
)
from xai_eval.errors import XaiEvalError

#: ``image_id`` of a skip that covers a whole (model, explainer) pair
PAIR_SKIP = "*"


class RunExistsError(XaiEvalError, RuntimeError):
    """The run already exists and neither --resume nor reuse applies."""


def get_run(factory: sessionmaker[Session], run_id: str) -> Run | None:
    with session_scope(factory) as session:
        return session.get(Run, run_id)


def create_run(factory: sessionmaker[Session], run_id: str, name: str, config_hash: str,
               config: dict[str, Any], total_units: int) -> None:
    """Insert the run row unless it exists (workers racing to create it is fine)."""
    with session_scope(factory) as session:
        insert_ignore(session, Run, [{
            "id": run_id, "name": name, "config_hash": config_hash, "config": config,
            "total_units": total_units, "xai_eval_version": __version__,
        }])


def mark_complete(factory: sessionmaker[Session], run_id: str) -> None:
    with session_scope(factory) as session:
        session.execute(
            update(Run).where(Run.id == run_id, Run.completed_at.is_(None))
            .values(completed_at=datetime.now(timezone.utc))
        )


def done_units(factory: sessionmaker[Session], run_id: str, model: str, dataset: str
               ) -> set[tuple[str, str]]:
    """``{(explainer, image_id)}`` completed for one model and dataset."""
    with session_scope(factory) as session:
        rows = session.execute(
            select(RunUnit.explainer, RunUnit.image_id).where(
                RunUnit.run_id == run_id, RunUnit.model == model, RunUnit.dataset == dataset)
        )
        return {(e, i) for e, i in rows}


def skips(factory: sessionmaker[Session], run_id: str) -> list[SkippedImage]:
    with session_scope(factory) as session:
        return list(session.scalars(
            select(SkippedImage).where(SkippedImage.run_id == run_id)
            .order_by(SkippedImage.dataset, SkippedImage.image_id, SkippedImage.model,
                      SkippedImage.explainer)
        ))


def record_skip(factory: sessionmaker[Session], run_id: str, dataset: str, image_id: str,
                reason: str, model: str = "", explainer: str = "") -> None:
    with session_scope(factory) as session:
        insert_ignore(session, SkippedImage, [{
            "run_id": run_id, "model": model, "explainer": explainer, "dataset": dataset,
            "image_id": image_id, "reason": reason,
        }])


def record_warning(factory: sessionmaker[Session], run_id: str, dataset: str, metric: str,
                   message: str) -> None:
    """Keep the first warning of ``metric`` on ``dataset`` (a later one, any worker's, is
    ignored: one row per (run, dataset, metric))."""
    with session_scope(factory) as session:
        insert_ignore(session, MetricWarning, [{
            "run_id": run_id, "dataset": dataset, "metric": metric, "message": message}])


def metric_warnings(factory: sessionmaker[Session], run_id: str) -> list[MetricWarning]:
    with session_scope(factory) as session:
        return list(session.scalars(
            select(MetricWarning).where(MetricWarning.run_id == run_id)
            .order_by(MetricWarning.dataset, MetricWarning.metric)))


def write_unit_rows(factory: sessionmaker[Session], run_id: str, model: str, explainer: str,
                    dataset: str, image_ids: Iterable[str], results: list[dict[str, Any]],
                    worker: str) -> None:
    """Metric rows and unit markers of finished units, in one transaction (all or none)."""
    units = [{"run_id": run_id, "model": model, "explainer": explainer, "dataset": dataset,
              "image_id": image_id, "worker": worker} for image_id in image_ids]
    with session_scope(factory) as session:
        for start in range(0, len(results), 500):
            insert_ignore(session, MetricResult, results[start:start + 500])
        insert_ignore(session, RunUnit, units)


def count_units(factory: sessionmaker[Session], run_id: str) -> int:
    with session_scope(factory) as session:
        return int(session.scalar(
            select(func.count()).select_from(RunUnit).where(RunUnit.run_id == run_id)) or 0)


def result_rows(factory: sessionmaker[Session], run_id: str) -> list[dict[str, Any]]:
    """Every stored per-image row of a run, in a stable order."""
    with session_scope(factory) as session:
        rows = session.execute(
            select(MetricResult.dataset, MetricResult.model, MetricResult.explainer,
                   MetricResult.metric, MetricResult.image_id, MetricResult.class_id,
                   MetricResult.values)
            .where(MetricResult.run_id == run_id)
            .order_by(MetricResult.dataset, MetricResult.model, MetricResult.explainer,
                      MetricResult.metric, MetricResult.image_id, MetricResult.class_id)
        )
        return [
            {"dataset": d, "model": m, "explainer": e, "metric": metric, "image_id": i,
             "class_id": c, "values": v}
            for d, m, e, metric, i, c, v in rows
        ]
