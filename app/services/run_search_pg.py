"""The runs search on PostgreSQL: a substring of each searched field, case-folded, found through ``pg_trgm``.

The same fields as on SQLite (``run_search``): a tool call's name, arguments (the stored JSON text) and arguments
as sent (case C10), a tool result's output, and the run's result (a JSON string without its quotes, anything else
as its JSON text), each field's first ``FIELD_CHARS`` characters. Each field is matched on its own, so a query
never matches across two fields (SQLite's document joins them with U+001F for the same reason).

Case folding is ``lower(... COLLATE "und-x-icu")`` on both sides, then ``LIKE``: ICU's Unicode lower case,
whatever locale the database was made with (a database made with the ``C`` locale lower-cases ASCII only), so
"RENÉ" finds "René" and "ÜNÏCODE" finds "ünïcode"; accents are kept ("rene" does not find "René"), as on SQLite.
ICU maps a final capital sigma to "ς" where SQLite's tables give "σ"; that is the one difference known. A query
of any length, one or two characters included, is searched this way (SQLite falls back to ``LIKE`` with ASCII
folding below three).

Indexes: revision ``0003_postgres_search`` makes a GIN ``gin_trgm_ops`` index on each field's expression exactly
as written here (same text, or the planner cannot use it). A query of three characters or more is looked up in
them (``pg_trgm`` extracts its trigrams, then rechecks the rows); a shorter one reads the index whole. There is
no background step: PostgreSQL keeps GIN indexes in step in the writing transaction itself (its pending list), so
what is committed is what is found.
"""

from __future__ import annotations

from sqlalchemy import Integer, TextualSelect, column, text

FIELD_CHARS = 10_000
"""As ``run_search.FIELD_CHARS``; the indexes of ``0003_postgres_search`` hold the same prefix."""


def folded(field: str) -> str:
    """The indexed expression of ``field``: its first ``FIELD_CHARS`` characters in ICU lower case."""
    return f'lower(substr({field}, 1, {FIELD_CHARS}) COLLATE "und-x-icu")'


_PATTERN = """('%' || lower(CAST(:pattern AS TEXT) COLLATE "und-x-icu") || '%')"""
_IN_CALLS = (folded("c.name"), folded("CAST(c.arguments AS TEXT)"), folded("c.arguments_text"))
_RESULT = folded("CAST(replace(CAST(n.result AS TEXT), '\\u0000', '\\ufffd') AS JSON) #>> '{}'")
"""The run's result: an escaped U+0000 becomes U+FFFD first (text cannot hold it, and ``#>>`` would raise)."""
_CALLS = "SELECT o.task_id FROM round AS o JOIN tool_call AS c ON c.round_id = o.id WHERE "
_MATCHING = text(
    " UNION ".join(f"{_CALLS}{field} LIKE {_PATTERN}" for field in _IN_CALLS)
    + " UNION SELECT o.task_id FROM round AS o JOIN tool_result AS r ON r.round_id = o.id WHERE "
    + f"{folded('r.output')} LIKE {_PATTERN}"
    + f" UNION SELECT n.task_id FROM run AS n WHERE {_RESULT} LIKE {_PATTERN}"
)
"""One ``SELECT`` per field, so each reads its own index (an ``OR`` of three fields of ``tool_call`` was planned as
a scan of the table, the planner not knowing what ICU's ``lower`` costs per row)."""


def matching_task_ids(q: str) -> TextualSelect:
    """A ``SELECT task_id`` of the runs with ``q`` as a substring of a searched field, case-folded; ``%``, ``_``
    and ``\\`` in ``q`` are plain characters (escaped for ``LIKE``, whose escape character is ``\\``)."""
    pattern = q.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return _MATCHING.bindparams(pattern=pattern).columns(column("task_id", Integer))
