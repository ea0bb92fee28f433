"""Revision ``0001_baseline``: the schema as it was when migrations began, made on a fresh database and adopted on
one made before (a database with tables and no ``alembic_version``).

``upgrade`` brings whatever is there to the baseline, in the migration's transaction:

1. every table of ``tables.metadata`` the database lacks is made, with its indexes (all of them, on a fresh one);
2. every column a table lacks is added (nullable, with the frozen Python default as its SQL ``DEFAULT``), as the
   console did at each start before migrations, for databases made by still older versions;
3. every index a table lacks is made (``delivery.received_at`` and ``round.submitted_at`` came after their
   tables; about a few seconds for a million deliveries);
4. the free-text ``answered_by`` of rounds, tool results, drafts and outbox items, from before answerers were
   data, is read into the answerer columns and dropped (``_upgrade_answered_by``);
5. on SQLite, the run counts and the runs search's index with their triggers (``sqlite.create``).

Nothing is altered or removed except that one old column, so no row is lost.
"""

from __future__ import annotations

import json
import re
from enum import Enum

from sqlalchemy import Connection, inspect
from sqlalchemy import text as sql

from app.answerers import AUTO, INBOX_USER, Answerer
from app.errors import SettingsError
from app.migrations.baseline import other_tables, sqlite
from app.migrations.baseline.tables import metadata
from app.states import HandlerKind

__all__ = ["metadata", "other_tables", "upgrade"]


def upgrade(conn: Connection) -> None:
    """Bring ``conn``'s database to the baseline (steps in the module docstring). Raises ``SettingsError`` for a
    database that holds tables but none of the console's: another program's database, never adopted."""
    _refuse_foreign(conn)
    metadata.create_all(conn)
    _add_missing_columns(conn)
    for table in metadata.sorted_tables:
        for index in table.indexes:
            index.create(conn, checkfirst=True)
    _upgrade_answered_by(conn)
    if conn.dialect.name == "sqlite":
        sqlite.create(conn)


def _refuse_foreign(conn: Connection) -> None:
    """A database with tables of its own and none of the console's is another program's (a mistyped
    ``TOOLDESK_DATABASE_URL``): adopting it would add the console's tables beside that program's data."""
    present = set(inspect(conn).get_table_names()) - {"alembic_version"}
    if present and not present & set(metadata.tables):
        shown = ", ".join(sorted(present)[:5]) + (", ..." if len(present) > 5 else "")
        raise SettingsError(
            f"TOOLDESK_DATABASE_URL names a database of another program (its tables: {shown}; none of Tooldesk's): "
            "no table was added or changed; point it at a Tooldesk database or a new file"
        )


def _add_missing_columns(conn: Connection) -> None:
    """Every column of the baseline a table lacks, added nullable with its default (new columns always had one
    or allowed null)."""
    inspector = inspect(conn)
    for table in metadata.sorted_tables:
        present = {column["name"] for column in inspector.get_columns(table.name)}
        for column in table.columns:
            if column.name in present:
                continue
            kind = column.type.compile(dialect=conn.dialect)
            default = getattr(column.default, "arg", None) if column.default is not None else None
            default = default.value if isinstance(default, Enum) else default
            suffix = f" DEFAULT {default!r}" if isinstance(default, int | float | str) else ""
            conn.exec_driver_sql(f'ALTER TABLE "{table.name}" ADD COLUMN "{column.name}" {kind}{suffix}')


_ANSWERED_TABLES = ("round", "tool_result", "draft", "outbox")
_OLD_HANDLER = re.compile(r"^(static|rules|python) handler v(\d+)$")
_OLD_REPLAY = re.compile(r"^replay of run (\d+)$")


def _upgrade_answered_by(conn: Connection) -> None:
    """For a database written before answerers were data: fill the answerer columns from the old ``answered_by``
    text of rounds, tool results, drafts and outbox items (and the outbox's per-call ``sources``), then drop that
    text column, which the new rows no longer fill (it was ``NOT NULL``)."""
    inspector = inspect(conn)
    for table in _ANSWERED_TABLES:
        if "answered_by" not in {column["name"] for column in inspector.get_columns(table)}:
            continue
        texts = conn.exec_driver_sql(f'SELECT DISTINCT answered_by FROM "{table}" WHERE answered_by IS NOT NULL')
        for (text,) in texts.all():
            answerer = _old_answerer(text)
            conn.execute(
                sql(
                    f'UPDATE "{table}" SET answered_kind = :kind, answered_version = :version, '
                    "answered_user = :user, answered_replay_of = :replay_of WHERE answered_by = :text"
                ),
                {"kind": answerer.kind.value, "version": answerer.version, "user": answerer.user,
                 "replay_of": answerer.replay_of, "text": text},
            )  # fmt: skip
        if table == "outbox":
            for item_id, sources in conn.exec_driver_sql("SELECT id, sources FROM outbox").all():
                upgraded = {
                    call: _old_answerer(text).model_dump(mode="json") for call, text in json.loads(sources).items()
                }
                conn.execute(
                    sql("UPDATE outbox SET sources = :sources WHERE id = :id"),
                    {"sources": json.dumps(upgraded, ensure_ascii=False), "id": item_id},
                )
        conn.exec_driver_sql(f'ALTER TABLE "{table}" DROP COLUMN answered_by')


def _old_answerer(text: str) -> Answerer:
    """The answerer an old ``answered_by`` text named: "rules handler v3", "replay of run 1001", "handlers
    (auto)", "person (console)" (the inbox), or any other name (a person or script through the API)."""
    if text == AUTO.text:
        return AUTO
    if text == "person (console)":
        return Answerer.person(INBOX_USER)
    if handler := _OLD_HANDLER.match(text):
        return Answerer.handler(HandlerKind(handler.group(1)), int(handler.group(2)))
    if replay := _OLD_REPLAY.match(text):
        return Answerer.replay(int(replay.group(1)))
    return Answerer.person(text)
