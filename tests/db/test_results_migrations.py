"""Alembic: the results tables come from 0002_results and match the models exactly."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect

from xai_eval.db.base import Base, import_all_models, make_engine
from xai_eval.db.migrate import downgrade, upgrade
from xai_eval.db.results import RESULT_TABLES


def _mine(diff: object) -> bool:
    """Whether an autogenerate diff entry touches one of the results tables."""
    text = repr(diff)
    return any(f"'{name}'" in text or f"<{name}>" in text or f"({name}" in text
               for name in RESULT_TABLES)


def test_upgrade_empty_database_to_heads_has_no_drift_and_downgrades(db_url):
    import_all_models()
    upgrade(db_url)
    engine = make_engine(db_url)
    try:
        with engine.connect() as connection:
            tables = set(inspect(connection).get_table_names())
            assert set(RESULT_TABLES) <= tables
            uniques = {tuple(u["column_names"])
                       for u in inspect(connection).get_unique_constraints("metric_results")}
            assert ("run_id", "model", "explainer", "dataset", "metric", "image_id",
                    "class_id") in uniques
            context = MigrationContext.configure(connection, opts={"compare_type": True})
            diff = [d for d in compare_metadata(context, Base.metadata) if _mine(d)]
        assert diff == []
    finally:
        engine.dispose()
    downgrade(db_url, "base")
    engine = make_engine(db_url)
    try:
        with engine.connect() as connection:
            assert not set(RESULT_TABLES) & set(inspect(connection).get_table_names())
    finally:
        engine.dispose()
