"""Cassettes: a run's tool calls and their results kept to answer other runs, and the runs that play one back.

Revision ID: 0006_cassettes
Revises: 0005_rule_state

``cassette`` (``app.models.Cassette``) and ``cassette_run`` (``app.models.CassetteRun``; its keys cascade: a
run's playback goes with the run, and with the cassette). Tables the models' own ``create_all`` made already (a
test's or a bench's seed) are adopted as they are.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006_cassettes"
down_revision: str | None = "0005_rule_state"
branch_labels = None
depends_on = None


def upgrade() -> None:
    existing = set(sa.inspect(op.get_bind()).get_table_names())
    if "cassette" not in existing:
        op.create_table(
            "cassette",
            sa.Column("id", sa.Integer().with_variant(sa.BigInteger(), "postgresql"), primary_key=True, nullable=False),
            sa.Column("name", sa.String(), nullable=False),
            sa.Column("agent_id", sa.String(), nullable=False),
            sa.Column("recorded_from", sa.Integer().with_variant(sa.BigInteger(), "postgresql"), nullable=True),
            sa.Column("created_at", sa.Float(), nullable=False),
            sa.Column("entries", sa.JSON(), nullable=False),
            sa.Column("playing", sa.Boolean(), nullable=False),
            sa.Column("matching", sa.String(), nullable=False),
            sa.Column("playing_since", sa.Float(), nullable=True),
        )
        op.create_index("ix_cassette_name", "cassette", ["name"], unique=True)
        op.create_index("ix_cassette_agent_id", "cassette", ["agent_id"])
    if "cassette_run" not in existing:
        op.create_table(
            "cassette_run",
            sa.Column(
                "task_id", sa.Integer().with_variant(sa.BigInteger(), "postgresql"), primary_key=True, nullable=False
            ),
            sa.Column("cassette_id", sa.Integer().with_variant(sa.BigInteger(), "postgresql"), nullable=False),
            sa.Column("matching", sa.String(), nullable=False),
            sa.Column("used", sa.JSON(), nullable=False),
            sa.ForeignKeyConstraint(["task_id"], ["run.task_id"], ondelete="CASCADE"),
            sa.ForeignKeyConstraint(["cassette_id"], ["cassette.id"], ondelete="CASCADE"),
        )
        op.create_index("ix_cassette_run_cassette_id", "cassette_run", ["cassette_id"])


def downgrade() -> None:
    op.drop_table("cassette_run")
    op.drop_table("cassette")
