"""The study tables come from Alembic: upgrade from empty, downgrade, upgrade; no drift."""

from __future__ import annotations

from sqlalchemy import inspect

from xai_eval.db.base import make_engine
from xai_eval.db.migrate import alembic_config, downgrade, upgrade

STUDY_TABLES = {"study", "stimulus", "study_item", "participant", "trial_instance", "response",
                "audit_log", "admin_user"}


def _tables(url: str) -> set[str]:
    engine = make_engine(url)
    try:
        return set(inspect(engine).get_table_names())
    finally:
        engine.dispose()


def test_upgrade_downgrade_upgrade(db_url):
    upgrade(db_url)
    assert _tables(db_url) >= STUDY_TABLES
    downgrade(db_url, "base")
    assert not (STUDY_TABLES & _tables(db_url))
    upgrade(db_url)
    assert _tables(db_url) >= STUDY_TABLES


def test_only_the_study_branch_can_be_reverted(db_url):
    """Reverting 0003 drops the study tables and leaves the other branch alone."""
    upgrade(db_url)
    from alembic import command

    command.downgrade(alembic_config(db_url), "0003_studies-1")
    assert not (STUDY_TABLES & _tables(db_url))
    upgrade(db_url)
    assert _tables(db_url) >= STUDY_TABLES


def test_models_match_migrations(db_url):
    """``alembic check``: the SQLAlchemy models and the migrations describe the same schema."""
    from alembic import command

    upgrade(db_url)
    command.check(alembic_config(db_url))
