"""Foreign keys from drafts, outbox items, timeline events and handler versions to what they belong to.

Revision ID: 0002_foreign_keys
Revises: 0001_baseline

``draft.round_id`` and ``outbox.round_id`` → ``round.id``, ``event.task_id`` → ``run.task_id``,
``handler_version.handler_id`` → ``handler.id``, each ``ON DELETE CASCADE`` (a round's drafts and submissions, a
run's timeline and a handler's history go with it). SQLite cannot add a key to a table, so Alembic's batch mode
makes each table anew with the key and copies its rows (indexes kept); another database alters it in place.

Orphans: a row whose parent is gone could not be copied under its new key. The console never shows such a row (a
timeline, a round's drafts and a handler's history are read through their parent) nor makes one now, but older
versions put a refused delivery's line on the timeline of whatever task its body claimed, known or not. Such
rows are deleted first, and the count per table is logged as a warning.
"""

from __future__ import annotations

import logging
import sys

from alembic import op
from sqlalchemy import Connection, inspect

revision = "0002_foreign_keys"
down_revision: str | None = "0001_baseline"
branch_labels = None
depends_on = None

KEYS = (
    ("draft", "round_id", "round", "id"),
    ("outbox", "round_id", "round", "id"),
    ("event", "task_id", "run", "task_id"),
    ("handler_version", "handler_id", "handler", "id"),
)
"""(table, column, parent table, parent column) of each key."""

_log = logging.getLogger("alembic.runtime.migration")


def upgrade() -> None:
    conn = op.get_bind()
    for table, column, parent, key in KEYS:
        if _has_key(conn, table, column, parent):
            continue  # made by the models' own create_all (a test's or a bench's seed), then adopted
        _delete_orphans(conn, table, column, parent, key)
        with op.batch_alter_table(table) as batch:
            batch.create_foreign_key(f"fk_{table}_{column}", parent, [column], [key], ondelete="CASCADE")


def downgrade() -> None:
    for table, column, _parent, _key in KEYS:
        with op.batch_alter_table(table) as batch:
            batch.drop_constraint(f"fk_{table}_{column}", type_="foreignkey")


def _has_key(conn: Connection, table: str, column: str, parent: str) -> bool:
    keys = inspect(conn).get_foreign_keys(table)
    return any(key["constrained_columns"] == [column] and key["referred_table"] == parent for key in keys)


def _delete_orphans(conn: Connection, table: str, column: str, parent: str, key: str) -> None:
    orphans = f'"{table}"."{column}" NOT IN (SELECT "{key}" FROM "{parent}")'
    deleted = conn.exec_driver_sql(f'DELETE FROM "{table}" WHERE {orphans}').rowcount
    if deleted:
        _log.warning("deleted %d %s row(s) whose %s had no %s (orphans, never shown)", deleted, table, column, parent)
        print(  # on stderr too: logging is not set up yet when start-up or `tooldesk db upgrade` migrates
            f"Tooldesk: the foreign-keys migration deleted {deleted} {table} row(s) whose {column} had no {parent}",
            file=sys.stderr,
            flush=True,
        )
