"""Rules handlers' memory: how often each rule answered (per run or across runs) and each run's state.

Revision ID: 0005_rule_state
Revises: 0004_unmatched_calls

``rule_count`` is keyed by the handler (``agent_id``, ``tool_name``), the rule (``rules_steps.count_key``) and the
scope (``task_id``, 0 across runs); ``run_state`` by ``task_id``. Both new and empty: nothing to copy.
"""

from __future__ import annotations

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision = "0005_rule_state"
down_revision: str | None = "0004_unmatched_calls"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "rule_count",
        sa.Column("agent_id", sqlmodel.AutoString(), nullable=False),
        sa.Column("tool_name", sqlmodel.AutoString(), nullable=False),
        sa.Column("rule", sqlmodel.AutoString(), nullable=False),
        sa.Column("task_id", sa.Integer().with_variant(sa.BigInteger(), "postgresql"), nullable=False),
        sa.Column("count", sa.Integer().with_variant(sa.BigInteger(), "postgresql"), nullable=False),
        sa.Column("updated_at", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint("agent_id", "tool_name", "rule", "task_id"),
    )
    op.create_table(
        "run_state",
        sa.Column("task_id", sa.Integer().with_variant(sa.BigInteger(), "postgresql"), nullable=False),
        sa.Column("state", sa.JSON(), nullable=False),
        sa.Column("updated_at", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint("task_id"),
    )


def downgrade() -> None:
    op.drop_table("run_state")
    op.drop_table("rule_count")
