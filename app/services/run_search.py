"""The runs search's full-text index on SQLite (PostgreSQL: ``run_search_pg``, which these functions hand over to
on an engine or session of that database): one SQLite FTS5 document per run, trigram tokenizer, brought up to date
after each change by an indexing step, with the runs changed since searched directly.

The runs search (``runs.RunFilter.q``) matches a substring of a tool call's name, arguments (the stored JSON
text) or arguments as sent (``arguments_text``, case C10), of a tool result's output, and of the run's result
(a JSON string without its quotes, anything else as JSON text). ``run_fts`` holds, per run (rowid
``task_id``), these fields of all its rounds in one document, each field's first ``FIELD_CHARS`` characters,
joined by the control character U+001F, which a query never matches across (``uses_index``).

The tokenizer is ``trigram case_sensitive 0``: every three characters are a token, folded to lower case by
SQLite's Unicode tables (not only ASCII, as ``LIKE`` does), so "RENÉ" finds "René" and "ünïcode" finds
"Ünïcode"; accents are kept ("rene" does not find "René"). A query is one phrase: its trigrams must follow
each other, so it matches as a substring.

Keeping it in step, in two halves:

- Triggers on ``tool_call``, ``tool_result`` and ``run`` only mark the run changed (``INSERT OR IGNORE INTO
  run_fts_stale``, a small table), inside the transaction of the change, whoever makes it (the webhook's
  writer, a submission, a replay): a committed change is marked, a rolled-back one never is.
- ``index_marked`` rewrites the marked runs' documents, lowest task_id first and once each, and clears their
  marks, ``STEP_RUNS`` runs per transaction of its own under the write lock. ``run_index.SearchIndexer`` runs
  it in the background, off the webhook's writer thread, after each change and every half second while marks
  are left.

A search reads, in one statement (one snapshot), the index's matches among runs not marked, and the marked
runs' documents, built by the same SQL and matched with ``instr`` after folding both sides with ``fold``
(``run_fts_fold`` in SQL): the same character table as the tokenizer, read from FTS5 itself at start, so a
marked run is found exactly as it will be once indexed. So what is committed is what is found, before and
after the step. Marked runs are few (those changed in the last fraction of a second) and each costs its
document's build, tens of microseconds.

The baseline migration makes the tables and the triggers and fills the index from the stored runs
(``app.migrations.baseline.sqlite``, which keeps a frozen copy of ``_DOCUMENT``: a change to the document is a new
revision that rebuilds the index); ``register_fold`` gives every connection ``run_fts_fold``.

Why capped: indexing costs about 0.1 s per megabyte of JSON (1 s of random letters), and arguments can be
nearly 1 MB (the webhook's limit). The pages draw the same first 10,000 characters of a call's arguments.

Why marks rather than rewriting the document in the trigger: FTS5 keeps a transaction's new entries in memory
only while rowids ascend and no document is written twice; otherwise it writes them out as a new segment
first. A run's document changes at each call, result and result change, and a writer's batch holds runs in
any order, so rewriting in the triggers wrote a segment at most rewrites. Measured on 100,000 runs through
``ingest.ingest_batch``, batches of 32 deliveries (8 bring a round of two calls, 24 change a run's result), each
batch committed with its fsync, three setups side by side in one run, twice, on 2 busy cores; per delivery,
median: no index triggers 265-271 µs, the per-change rewriting triggers 1,239-1,252 µs (about 1 ms more),
the marking triggers 281-288 µs (within 20 µs of none). The step then costs about 0.2 ms per run, off the
writer: 1,817 runs in 350 ms, commits included; a 64-run transaction holds the write lock 5-12 ms, now and then
30-70 ms when FTS5 merges its segments (its ``automerge``; bounded ``merge`` steps instead measured no better).
Searches with no run marked take what they took before (13-15 ms for a city, p50 over the bench's queries);
with 200 runs marked, about 10 ms more.
"""

from __future__ import annotations

import sqlite3
from functools import cache
from typing import Any

from sqlalchemy import Engine, Integer, TextualSelect, column, event, text
from sqlmodel import Session

from app.db import write_connection
from app.services import run_search_pg

TOKENIZER = "trigram case_sensitive 0"
MIN_CHARS = 3
"""A query shorter than this has no trigram: ``runs`` searches it with ``LIKE`` instead."""
FIELD_CHARS = 10_000
"""Characters of each field (an argument text, an output, the result) the index holds."""
SEPARATOR = "\x1f"
"""Between the fields of a run's document; a query holding it is searched with ``LIKE`` instead."""
STEP_RUNS = 64
"""Marked runs ``index_marked`` rewrites per transaction, so it holds the write lock a few milliseconds at most."""

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


_MARKED = text("SELECT task_id FROM run_fts_stale ORDER BY task_id LIMIT :cap")
_UNINDEX = "DELETE FROM run_fts WHERE rowid IN (SELECT task_id FROM run_fts_stale ORDER BY task_id LIMIT {cap})"
_REINDEX = (
    "INSERT INTO run_fts(rowid, body) SELECT t, d FROM (SELECT t, ("
    + _DOCUMENT.format(t="t")
    + ") AS d FROM (SELECT task_id AS t FROM run_fts_stale ORDER BY task_id LIMIT {cap})) WHERE d IS NOT NULL "
    "ORDER BY t"
)
_UNMARK = "DELETE FROM run_fts_stale WHERE task_id IN (SELECT task_id FROM run_fts_stale ORDER BY task_id LIMIT {cap})"

_MATCHING = text(
    "SELECT rowid AS task_id FROM run_fts WHERE run_fts MATCH :phrase "
    "AND rowid NOT IN (SELECT task_id FROM run_fts_stale) "
    "UNION ALL SELECT s.task_id FROM run_fts_stale AS s "
    "WHERE instr(run_fts_fold((" + _DOCUMENT.format(t="s.task_id") + ")), :folded) > 0"
)
_SOME = text("SELECT count(*) FROM (SELECT 1 FROM run_fts WHERE run_fts MATCH :phrase LIMIT :cap)")
BROAD = 1000
"""Matching runs from which a page is better read in its order's index, probing each run against the matches,
than by looking up every matching run and sorting them (which costs a few microseconds per match)."""


def index_marked(engine: Engine, *, cap: int = STEP_RUNS) -> int:
    """Rewrite the documents of up to ``cap`` marked runs, lowest task_id first, each once, and clear their
    marks, in one transaction under the write lock (``app.db.write_connection``); returns how many runs it
    took (0 without taking the lock when none is marked). Blocking: run it off the event loop, never on the
    webhook's writer thread (``run_index.SearchIndexer``). PostgreSQL keeps its indexes in step itself: 0."""
    if engine.dialect.name != "sqlite":
        return 0
    with engine.connect() as conn:
        if not conn.execute(_MARKED.bindparams(cap=1)).first():
            return 0
    with write_connection(engine) as conn:
        taken = len(conn.execute(_MARKED.bindparams(cap=cap)).all())
        for statement in (_UNINDEX, _REINDEX, _UNMARK):
            conn.exec_driver_sql(statement.format(cap=int(cap)))
        return taken


def marked(engine: Engine) -> int:
    """How many runs are marked changed and not yet indexed again (none on PostgreSQL)."""
    if engine.dialect.name != "sqlite":
        return 0
    with engine.connect() as conn:
        return int(conn.exec_driver_sql("SELECT count(*) FROM run_fts_stale").scalar_one())


def uses_index(q: str, dialect: str = "sqlite") -> bool:
    """Whether ``q`` is searched through the trigram index: it has ``MIN_CHARS`` characters or more, no
    ``SEPARATOR`` (which would match across two fields) and no NUL (FTS5 ends a phrase there and refuses the query,
    "unterminated string"; ``runs`` matches no run for it). On PostgreSQL every ``q`` without NUL is."""
    if dialect != "sqlite":
        return "\x00" not in q
    return len(q) >= MIN_CHARS and SEPARATOR not in q and "\x00" not in q


def matching_task_ids(q: str, dialect: str = "sqlite") -> TextualSelect:
    """A ``SELECT task_id`` of the runs with ``q`` (at least ``MIN_CHARS`` characters) as a substring of an
    indexed field, case-folded; for ``Run.task_id.in_(...)``: index matches of runs not marked, and marked
    runs' documents built and folded (``fold``) on the spot, in one statement, so one snapshot. ``q`` is one
    FTS5 phrase (quotes doubled), so ``"``, ``*``, ``AND``, ``%`` or ``_`` in it are plain characters. Another
    ``dialect`` than ``"sqlite"``: ``run_search_pg.matching_task_ids``."""
    if dialect != "sqlite":
        return run_search_pg.matching_task_ids(q)
    params = _MATCHING.bindparams(phrase=_phrase(q), folded=fold(q))
    return params.columns(column("task_id", Integer))


def is_broad(session: Session, q: str) -> bool:
    """Whether ``q`` (as for ``matching_task_ids``) matches ``BROAD`` runs or more in the index; reads at most
    that many matches (under a millisecond), as FTS5 yields them one by one. Marked runs count by their last
    indexed text: the answer only picks the faster plan. PostgreSQL's planner picks its own: ``False``."""
    if session.get_bind().dialect.name != "sqlite":
        return False
    found = session.connection().execute(_SOME.bindparams(phrase=_phrase(q), cap=BROAD)).scalar_one()
    return int(found) >= BROAD


def fold(value: str | None) -> str | None:
    """``value`` case-folded exactly as the index's tokenizer folds it (``_fold_table``); ``None`` stays."""
    return None if value is None else value.translate(_fold_table())


@cache
def _fold_table() -> dict[int, int]:
    """Each character the trigram tokenizer folds, mapped to what it folds to, read from FTS5 itself (an
    in-memory table of the same SQLite library): exact, where Python's own case mapping differs for about 400
    characters (Cherokee, Greek symbols, ``µ``, ``ſ``, letters newer than SQLite's Unicode tables). Candidates:
    every character Python lowers or case-folds (a superset of SQLite's; none above U+1FFFF has a case), and
    U+FFFE, U+FFFF."""
    candidates = [c for c in range(0x20000) if not 0xD800 <= c <= 0xDFFF and _cased(chr(c))]
    db = sqlite3.connect(":memory:")
    try:
        db.execute(f"CREATE VIRTUAL TABLE f USING fts5(body, tokenize='{TOKENIZER}')")
        db.execute("CREATE VIRTUAL TABLE v USING fts5vocab(f, 'instance')")
        db.executemany("INSERT INTO f(rowid, body) VALUES (?, ?)", ((c, chr(c) * 3) for c in candidates))
        terms = db.execute("SELECT doc, term FROM v").fetchall()
    finally:
        db.close()
    return {int(c): ord(term[0]) for c, term in terms if len(term) == 3 and ord(term[0]) != c}


def _cased(ch: str) -> bool:
    return ch.lower() != ch or ch.casefold() != ch or ch in "\ufffe\uffff"


def register_fold(engine: Engine) -> None:
    """``run_fts_fold(text)`` (``fold``) on every connection ``engine`` opens from now on; the connections it
    pooled before are closed, so none lacks it. Called by ``app.db.make_engine``; nothing on PostgreSQL."""
    if engine.dialect.name != "sqlite":
        return
    _fold_table()
    event.listen(engine, "connect", _add_fold)
    engine.dispose()


def _add_fold(dbapi_connection: Any, _record: Any) -> None:
    dbapi_connection.create_function("run_fts_fold", 1, fold, deterministic=True)


def _phrase(q: str) -> str:
    return '"' + q.replace('"', '""') + '"'
