"""The schema as it was when migrations began: made on a fresh database, adopted on one made before.

Revision ID: 0001_baseline
Revises:
"""

from __future__ import annotations

from alembic import op

from app.migrations import baseline

revision = "0001_baseline"
down_revision: str | None = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    baseline.upgrade(op.get_bind())


def downgrade() -> None:
    raise NotImplementedError("the baseline is not undone: it would drop every table (delete the file instead)")
