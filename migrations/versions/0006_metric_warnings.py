"""Metric warnings: the first warning each metric raised per (run, dataset), for the report.

Revision ID: 0006_metric_warnings
Revises: 0005_packed_metric_arrays
Create Date: 2026-12-02
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006_metric_warnings"
down_revision = "0005_packed_metric_arrays"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "metric_warnings",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True,
                  nullable=False),
        sa.Column("run_id", sa.String(length=64), nullable=False),
        sa.Column("dataset", sa.String(length=200), nullable=False),
        sa.Column("metric", sa.String(length=200), nullable=False),
        sa.Column("message", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["run_id"], ["runs.id"], ondelete="CASCADE",
                                name=op.f("fk_metric_warnings_run_id_runs")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_metric_warnings")),
        sa.UniqueConstraint("run_id", "dataset", "metric", name="uq_metric_warnings_key"),
    )


def downgrade() -> None:
    op.drop_table("metric_warnings")
