"""The SQLite-only objects of the baseline: the run counts kept by triggers (``app.run_counts``) and the runs
search's FTS5 trigram index with the triggers that mark changed runs (``app.services.run_search``).

Frozen copies of the DDL those modules describe: a change to either is a new revision. ``create`` makes what a
database lacks and leaves what it has, so it serves a fresh database and one made before migrations alike: the
counts are taken from the runs already stored, and an index missing from an older database is filled from its
stored calls, results and runs (about 10 s per 100,000 runs), in the migration's transaction. A database whose
index was kept by the first version's per-change triggers gets them replaced by the marking ones; its index is
kept, since those triggers kept it in step. A PostgreSQL port adds its own function beside ``create``.
"""

from __future__ import annotations

from sqlalchemy import Connection

_RUN_COUNT = (
    "CREATE TABLE run_count (status VARCHAR PRIMARY KEY, runs INTEGER NOT NULL) WITHOUT ROWID",
    "INSERT INTO run_count (status, runs) SELECT status, count(*) FROM run GROUP BY status",
    """CREATE TRIGGER run_count_insert AFTER INSERT ON run BEGIN
        INSERT INTO run_count (status, runs) VALUES (NEW.status, 1)
            ON CONFLICT (status) DO UPDATE SET runs = runs + 1;
    END""",
    """CREATE TRIGGER run_count_update AFTER UPDATE OF status ON run WHEN OLD.status IS NOT NEW.status BEGIN
        UPDATE run_count SET runs = runs - 1 WHERE status = OLD.status;
        INSERT INTO run_count (status, runs) VALUES (NEW.status, 1)
            ON CONFLICT (status) DO UPDATE SET runs = runs + 1;
    END""",
    """CREATE TRIGGER run_count_delete AFTER DELETE ON run BEGIN
        UPDATE run_count SET runs = runs - 1 WHERE status = OLD.status;
    END""",
)

_RESULT_TEXT = "CASE WHEN json_valid({v}) THEN CAST(json_extract({v}, '$') AS TEXT) ELSE CAST({v} AS TEXT) END"
_FIELDS = (
    "SELECT c.name AS f FROM round AS o JOIN tool_call AS c ON c.round_id = o.id WHERE o.task_id = {t} "
    "UNION ALL SELECT CAST(c.arguments AS TEXT) FROM round AS o JOIN tool_call AS c ON c.round_id = o.id "
    "WHERE o.task_id = {t} "
    "UNION ALL SELECT c.arguments_text FROM round AS o JOIN tool_call AS c ON c.round_id = o.id "
    "WHERE o.task_id = {t} "
    "UNION ALL SELECT r.output FROM round AS o JOIN tool_result AS r ON r.round_id = o.id WHERE o.task_id = {t} "
    "UNION ALL SELECT " + _RESULT_TEXT.format(v="n.result") + " FROM run AS n WHERE n.task_id = {t}"
)
_DOCUMENT = "SELECT group_concat(substr(f, 1, 10000), char(31)) FROM (" + _FIELDS + ")"
"""A run's document as ``run_search`` builds it: each field's first 10,000 characters, joined by U+001F."""


def _mark(task_id: str) -> str:
    return f"INSERT OR IGNORE INTO run_fts_stale(task_id) SELECT t FROM (SELECT {task_id} AS t) WHERE t IS NOT NULL;"


def _of_round(row: str) -> str:
    return f"(SELECT task_id FROM round WHERE id = {row}.round_id)"


_OLD_TRIGGERS = tuple(
    f"run_fts_{table}_{change}" for table in ("call", "result", "run") for change in ("insert", "update", "delete")
)
_MARKING = (
    "CREATE TABLE IF NOT EXISTS run_fts_stale (task_id INTEGER PRIMARY KEY)",
    f"CREATE TRIGGER IF NOT EXISTS run_fts_mark_call_insert AFTER INSERT ON tool_call BEGIN {_mark(_of_round('NEW'))} END",
    "CREATE TRIGGER IF NOT EXISTS run_fts_mark_call_update "
    "AFTER UPDATE OF name, arguments, arguments_text, round_id ON tool_call "
    f"BEGIN {_mark(_of_round('OLD'))} {_mark(_of_round('NEW'))} END",
    f"CREATE TRIGGER IF NOT EXISTS run_fts_mark_call_delete AFTER DELETE ON tool_call BEGIN {_mark(_of_round('OLD'))} END",
    "CREATE TRIGGER IF NOT EXISTS run_fts_mark_result_insert AFTER INSERT ON tool_result "
    f"BEGIN {_mark(_of_round('NEW'))} END",
    "CREATE TRIGGER IF NOT EXISTS run_fts_mark_result_update AFTER UPDATE OF output, round_id ON tool_result "
    f"BEGIN {_mark(_of_round('OLD'))} {_mark(_of_round('NEW'))} END",
    "CREATE TRIGGER IF NOT EXISTS run_fts_mark_result_delete AFTER DELETE ON tool_result "
    f"BEGIN {_mark(_of_round('OLD'))} END",
    "CREATE TRIGGER IF NOT EXISTS run_fts_mark_run_insert AFTER INSERT ON run WHEN NEW.result IS NOT NULL "
    f"BEGIN {_mark('NEW.task_id')} END",
    "CREATE TRIGGER IF NOT EXISTS run_fts_mark_run_update AFTER UPDATE OF result, task_id ON run "
    "WHEN OLD.result IS NOT NEW.result OR OLD.task_id IS NOT NEW.task_id "
    f"BEGIN {_mark('OLD.task_id')} {_mark('NEW.task_id')} END",
    f"CREATE TRIGGER IF NOT EXISTS run_fts_mark_run_delete AFTER DELETE ON run BEGIN {_mark('OLD.task_id')} END",
)
_INDEX = (
    "CREATE VIRTUAL TABLE run_fts USING fts5(body, tokenize='trigram case_sensitive 0')",
    "INSERT INTO run_fts(rowid, body) SELECT t, d FROM (SELECT t, ("
    + _DOCUMENT.format(t="t")
    + ") AS d FROM (SELECT task_id AS t FROM run UNION SELECT task_id FROM round)) WHERE d IS NOT NULL",
)

TABLES = ("run_count", "run_fts", "run_fts_stale")
"""Tables these objects make (FTS5 adds its shadow tables ``run_fts_*``); the models do not describe them."""


def create(conn: Connection) -> None:
    """Make the run counts and the search index with their triggers, each unless ``conn``'s database has it."""
    if not _has_table(conn, "run_count"):
        for statement in _RUN_COUNT:
            conn.exec_driver_sql(statement)
    if not _has_table(conn, "run_fts"):
        for statement in _INDEX:
            conn.exec_driver_sql(statement)
    for name in _OLD_TRIGGERS:
        conn.exec_driver_sql(f"DROP TRIGGER IF EXISTS {name}")
    for statement in _MARKING:
        conn.exec_driver_sql(statement)


def _has_table(conn: Connection, name: str) -> bool:
    found = conn.exec_driver_sql("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?", (name,))
    return found.first() is not None
