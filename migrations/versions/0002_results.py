"""Metric-suite results: runs, completed units, per-image metric rows, skipped images.

Revision ID: 0002_results
Revises: 0001_base
Create Date: 2026-11-27
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002_results"
down_revision = "0001_base"
branch_labels = None
depends_on = None

BIG_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def _key_columns() -> list[sa.Column]:
    return [
        sa.Column("id", BIG_ID, primary_key=True, autoincrement=True),
        sa.Column("run_id", sa.String(length=64), nullable=False),
        sa.Column("model", sa.String(length=200), nullable=False),
        sa.Column("explainer", sa.String(length=200), nullable=False),
        sa.Column("dataset", sa.String(length=200), nullable=False),
    ]


def upgrade() -> None:
    op.create_table(
        "runs",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("config_hash", sa.String(length=64), nullable=False),
        sa.Column("config", sa.JSON(), nullable=False),
        sa.Column("total_units", sa.Integer(), nullable=True),
        sa.Column("xai_eval_version", sa.String(length=32), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("completed_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_runs")),
    )
    op.create_index(op.f("ix_runs_config_hash"), "runs", ["config_hash"], unique=False)

    op.create_table(
        "run_units",
        *_key_columns(),
        sa.Column("image_id", sa.String(length=500), nullable=False),
        sa.Column("worker", sa.String(length=200), nullable=False),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["run_id"], ["runs.id"], ondelete="CASCADE",
                                name=op.f("fk_run_units_run_id_runs")),
        sa.UniqueConstraint("run_id", "model", "explainer", "dataset", "image_id",
                            name="uq_run_units_key"),
    )
    op.create_table(
        "metric_results",
        *_key_columns(),
        sa.Column("metric", sa.String(length=200), nullable=False),
        sa.Column("image_id", sa.String(length=500), nullable=False),
        sa.Column("class_id", sa.Integer(), nullable=False),
        sa.Column("values", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["run_id"], ["runs.id"], ondelete="CASCADE",
                                name=op.f("fk_metric_results_run_id_runs")),
        sa.UniqueConstraint("run_id", "model", "explainer", "dataset", "metric", "image_id",
                            "class_id", name="uq_metric_results_key"),
    )
    op.create_table(
        "skipped_images",
        *_key_columns(),
        sa.Column("image_id", sa.String(length=500), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["run_id"], ["runs.id"], ondelete="CASCADE",
                                name=op.f("fk_skipped_images_run_id_runs")),
        sa.UniqueConstraint("run_id", "model", "explainer", "dataset", "image_id",
                            name="uq_skipped_images_key"),
    )


def downgrade() -> None:
    op.drop_table("skipped_images")
    op.drop_table("metric_results")
    op.drop_table("run_units")
    op.drop_index(op.f("ix_runs_config_hash"), table_name="runs")
    op.drop_table("runs")
