"""Robustness sweeps: the ``sweep`` table and its runs, ``sweep_run`` (``app.models.sweep_tables``).

Revision ID: 0007_sweeps
Revises: 0006_cassettes

New tables only: nothing existing changes. A sweep run's outcome is read from its ``run`` row by ``task_id``
(no key: a sweep run the platform refused has no run).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007_sweeps"
down_revision: str | None = "0006_cassettes"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "sweep",
        sa.Column("id", sa.Integer().with_variant(sa.BigInteger(), "postgresql"), primary_key=True),
        sa.Column("agent_id", sa.String(), nullable=False),
        sa.Column("tool_name", sa.String(), nullable=False),
        sa.Column("cells", sa.JSON(), nullable=False),
        sa.Column("runs_per_cell", sa.Integer().with_variant(sa.BigInteger(), "postgresql"), nullable=False),
        sa.Column("string_inputs", sa.JSON(), nullable=False),
        sa.Column("round_ttl", sa.Float(), nullable=True),
        sa.Column("created_by", sa.String(), nullable=False),
        sa.Column("created_at", sa.Float(), nullable=False),
        sa.Column("cancelled_at", sa.Float(), nullable=True),
    )
    op.create_table(
        "sweep_run",
        sa.Column("id", sa.Integer().with_variant(sa.BigInteger(), "postgresql"), primary_key=True),
        sa.Column(
            "sweep_id",
            sa.Integer().with_variant(sa.BigInteger(), "postgresql"),
            sa.ForeignKey("sweep.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("cell", sa.Integer().with_variant(sa.BigInteger(), "postgresql"), nullable=False),
        sa.Column("task_id", sa.Integer().with_variant(sa.BigInteger(), "postgresql"), nullable=True),
        sa.Column("start_error", sa.String(), nullable=True),
        sa.Column("started_at", sa.Float(), nullable=True),
    )
    op.create_index("ix_sweep_run_task_id", "sweep_run", ["task_id"])


def downgrade() -> None:
    op.drop_index("ix_sweep_run_task_id", table_name="sweep_run")
    op.drop_table("sweep_run")
    op.drop_table("sweep")
