"""The calls no rule of a rules handler matched, kept per handler for its Unmatched calls list.

Revision ID: 0004_unmatched_calls
Revises: 0003_postgres_search

A new table ``unmatched_call`` (``app.models.unmatched_tables``), keyed to ``handler.id`` with ``ON DELETE
CASCADE`` (a handler's unmatched calls go with it); nothing existing changes.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004_unmatched_calls"
down_revision: str | None = "0003_postgres_search"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "unmatched_call",
        sa.Column("id", sa.Integer().with_variant(sa.BigInteger(), "postgresql"), nullable=False),
        sa.Column("handler_id", sa.Integer().with_variant(sa.BigInteger(), "postgresql"), nullable=False),
        sa.Column("handler_version", sa.Integer().with_variant(sa.BigInteger(), "postgresql"), nullable=False),
        sa.Column("agent_id", sa.String(), nullable=False),
        sa.Column("tool_name", sa.String(), nullable=False),
        sa.Column("task_id", sa.Integer().with_variant(sa.BigInteger(), "postgresql"), nullable=False),
        sa.Column("round", sa.Integer().with_variant(sa.BigInteger(), "postgresql"), nullable=False),
        sa.Column("tool_call_id", sa.String(), nullable=False),
        sa.Column("arguments", sa.JSON(), nullable=True),
        sa.Column("arguments_problem", sa.String(), nullable=True),
        sa.Column("by_default", sa.Boolean(), nullable=False),
        sa.Column("is_error", sa.Boolean(), nullable=False),
        sa.Column("output", sa.String(), nullable=False),
        sa.Column("nearest", sa.JSON(), nullable=True),
        sa.Column("at", sa.Float(), nullable=False),
        sa.ForeignKeyConstraint(["handler_id"], ["handler.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_unmatched_call_handler_id", "unmatched_call", ["handler_id"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_unmatched_call_handler_id", table_name="unmatched_call")
    op.drop_table("unmatched_call")
