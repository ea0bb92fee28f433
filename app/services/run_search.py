"""The runs search's full-text index: one SQLite FTS5 document per run, trigram tokenizer, kept in step by triggers.

The runs search (``runs.RunFilter.q``) matches a substring of a tool call's name, arguments (the stored JSON
text) or arguments as sent (``arguments_text``, case C10), of a tool result's output, and of the run's result
(a JSON string without its quotes, anything else as JSON text). ``run_fts`` holds, per run (rowid
``task_id``), these fields of all its rounds in one document, each field's first ``FIELD_CHARS`` characters,
joined by the control character U+001F, which a query never matches across (``uses_index``).

The tokenizer is ``trigram case_sensitive 0``: every three characters are a token, folded to lower case by
SQLite's Unicode tables (not only ASCII, as ``LIKE`` does), so "RENÉ" finds "René" and "ünïcode" finds
"Ünïcode"; accents are kept ("rene" does not find "René"). A query is one phrase: its trigrams must follow
each other, so it matches as a substring.

Triggers on ``tool_call``, ``tool_result`` and ``run`` rewrite the run's document inside the transaction of the
change, whoever makes it (the webhook's writer, a submission, a replay), so a committed change is searchable
and a rolled-back one never is. ``create_index`` makes table and triggers, and fills the table from the stored
runs, the first time a database is opened by a version that has them (``app.db.make_engine``).

Why capped: indexing costs about 0.1 s per megabyte of JSON (1 s of random letters), inside the writer's
transaction, and a run's document is rewritten at each of its changes; arguments can be nearly 1 MB (the
webhook's limit). The pages draw the same first 10,000 characters of a call's arguments.

What it costs the writer: FTS5 keeps a transaction's new entries in memory only while rowids ascend and no
document is written twice; otherwise it writes them out as a new segment first. A run's document is rewritten
at each call, result and result change, and a batch holds runs in any order, so most rewrites write a segment:
measured on 100,000 runs, 2 busy cores, batches of 32 deliveries of which 8 bring a round of two calls, about
0.9 ms per delivery more than without the index (48 µs without it). Entries per call and per result, appended
in id order, cost about a tenth of that but made a search several times slower (each match then needs its
run looked up). Cheap on both sides would be: triggers only mark the run changed (a small table, same
transaction); a step after the commit rewrites the marked runs' documents in task_id order, once each; and the
search reads marked runs from their tables until then, so what is committed is still what is found.
"""

from __future__ import annotations

from sqlalchemy import Engine, Integer, TextualSelect, column, text
from sqlmodel import Session

TOKENIZER = "trigram case_sensitive 0"
MIN_CHARS = 3
"""A query shorter than this has no trigram: ``runs`` searches it with ``LIKE`` instead."""
FIELD_CHARS = 10_000
"""Characters of each field (an argument text, an output, the result) the index holds."""
SEPARATOR = "\x1f"
"""Between the fields of a run's document; a query holding it is searched with ``LIKE`` instead."""

_RESULT_TEXT = "CASE WHEN json_valid({v}) THEN CAST(json_extract({v}, '$') AS TEXT) ELSE CAST({v} AS TEXT) END"
"""The run's result as the search reads it: a JSON string without quotes, other JSON as its text (a value that
is not JSON, which the console never stores, as it is rather than an error inside a writer's transaction)."""

_FIELDS = (
    "SELECT c.name AS f FROM round AS o JOIN tool_call AS c ON c.round_id = o.id WHERE o.task_id = {t} "
    "UNION ALL SELECT CAST(c.arguments AS TEXT) FROM round AS o JOIN tool_call AS c ON c.round_id = o.id "
    "WHERE o.task_id = {t} "
    "UNION ALL SELECT c.arguments_text FROM round AS o JOIN tool_call AS c ON c.round_id = o.id "
    "WHERE o.task_id = {t} "
    "UNION ALL SELECT r.output FROM round AS o JOIN tool_result AS r ON r.round_id = o.id WHERE o.task_id = {t} "
    "UNION ALL SELECT " + _RESULT_TEXT.format(v="n.result") + " FROM run AS n WHERE n.task_id = {t}"
)
_DOCUMENT = "SELECT group_concat(substr(f, 1, " + str(FIELD_CHARS) + "), char(31)) FROM (" + _FIELDS + ")"
"""A run's document: its fields (``NULL`` ones left out) joined by U+001F; ``NULL`` when it has none."""


def _rewrite(task_id: str) -> str:
    """Trigger statements that replace the document of the run ``task_id`` (an SQL expression)."""
    document = _DOCUMENT.format(t="t")
    return (
        f"DELETE FROM run_fts WHERE rowid = {task_id}; "
        f"INSERT INTO run_fts(rowid, body) SELECT t, d FROM (SELECT t, ({document}) AS d FROM (SELECT {task_id} AS t)) "
        "WHERE t IS NOT NULL AND d IS NOT NULL;"
    )


def _of_round(row: str) -> str:
    return f"(SELECT task_id FROM round WHERE id = {row}.round_id)"


_SCHEMA = [
    f"CREATE VIRTUAL TABLE run_fts USING fts5(body, tokenize='{TOKENIZER}')",
    f"CREATE TRIGGER run_fts_call_insert AFTER INSERT ON tool_call BEGIN {_rewrite(_of_round('NEW'))} END",
    "CREATE TRIGGER run_fts_call_update AFTER UPDATE OF name, arguments, arguments_text, round_id ON tool_call "
    f"BEGIN {_rewrite(_of_round('OLD'))} {_rewrite(_of_round('NEW'))} END",
    f"CREATE TRIGGER run_fts_call_delete AFTER DELETE ON tool_call BEGIN {_rewrite(_of_round('OLD'))} END",
    f"CREATE TRIGGER run_fts_result_insert AFTER INSERT ON tool_result BEGIN {_rewrite(_of_round('NEW'))} END",
    "CREATE TRIGGER run_fts_result_update AFTER UPDATE OF output, round_id ON tool_result "
    f"BEGIN {_rewrite(_of_round('OLD'))} {_rewrite(_of_round('NEW'))} END",
    f"CREATE TRIGGER run_fts_result_delete AFTER DELETE ON tool_result BEGIN {_rewrite(_of_round('OLD'))} END",
    "CREATE TRIGGER run_fts_run_insert AFTER INSERT ON run WHEN NEW.result IS NOT NULL "
    f"BEGIN {_rewrite('NEW.task_id')} END",
    "CREATE TRIGGER run_fts_run_update AFTER UPDATE OF result, task_id ON run "
    "WHEN OLD.result IS NOT NEW.result OR OLD.task_id IS NOT NEW.task_id "
    f"BEGIN {_rewrite('OLD.task_id')} {_rewrite('NEW.task_id')} END",
    "CREATE TRIGGER run_fts_run_delete AFTER DELETE ON run BEGIN DELETE FROM run_fts WHERE rowid = OLD.task_id; END",
]

_BACKFILL = (
    "INSERT INTO run_fts(rowid, body) SELECT t, d FROM (SELECT t, ("
    + _DOCUMENT.format(t="t")
    + ") AS d FROM (SELECT task_id AS t FROM run UNION SELECT task_id FROM round)) WHERE d IS NOT NULL"
)

_MATCHING = text("SELECT rowid AS task_id FROM run_fts WHERE run_fts MATCH :phrase")
_SOME = text("SELECT count(*) FROM (SELECT 1 FROM run_fts WHERE run_fts MATCH :phrase LIMIT :cap)")
BROAD = 1000
"""Matching runs from which a page is better read in its order's index, probing each run against the matches,
than by looking up every matching run and sorting them (which costs a few microseconds per match)."""


def create_index(engine: Engine) -> bool:
    """Make the index's table and triggers and fill it from the stored calls, results and runs, in one
    transaction, unless the database has it already (then nothing is done: the triggers have kept it in step).
    Returns True when it made it. Blocking; called once at start by ``app.db.make_engine``.

    The transaction is begun by hand: Python's ``sqlite3`` begins one only before a data change, so the
    ``CREATE`` statements would each commit alone, and a start that died in the backfill would leave an index
    that stays empty. ``IMMEDIATE`` takes the write lock first, so a second process starting at the same
    moment waits and then finds the index made.
    """
    with engine.connect() as conn:
        conn.exec_driver_sql("BEGIN IMMEDIATE")
        present = conn.exec_driver_sql(
            "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = 'run_fts'"
        ).scalar_one()
        if present:
            conn.rollback()
            return False
        for statement in (*_SCHEMA, _BACKFILL):
            conn.exec_driver_sql(statement)
        conn.commit()
    return True


def uses_index(q: str) -> bool:
    """Whether ``q`` is searched through the trigram index: it has ``MIN_CHARS`` characters or more, and no
    ``SEPARATOR`` (which would match across two fields)."""
    return len(q) >= MIN_CHARS and SEPARATOR not in q


def matching_task_ids(q: str) -> TextualSelect:
    """A ``SELECT task_id`` of the runs with ``q`` (at least ``MIN_CHARS`` characters) as a substring of an
    indexed field, case-folded; for ``Run.task_id.in_(...)``. ``q`` is one FTS5 phrase (quotes doubled), so
    ``"``, ``*``, ``AND``, ``%`` or ``_`` in it are plain characters."""
    return _MATCHING.bindparams(phrase=_phrase(q)).columns(column("task_id", Integer))


def is_broad(session: Session, q: str) -> bool:
    """Whether ``q`` (as for ``matching_task_ids``) matches ``BROAD`` runs or more; reads at most that many
    matches (under a millisecond), as FTS5 yields them one by one."""
    found = session.connection().execute(_SOME.bindparams(phrase=_phrase(q), cap=BROAD)).scalar_one()
    return int(found) >= BROAD


def _phrase(q: str) -> str:
    return '"' + q.replace('"', '""') + '"'
