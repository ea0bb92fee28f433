"""Searching stored delivery bodies for a text: one SQL condition, portable across SQLAlchemy's dialects.

A body is stored as bytes (``Delivery.body``, a BLOB in SQLite, ``bytea`` in PostgreSQL), so the search is a
byte search: exact and case-sensitive, for the text's UTF-8 bytes. A text can reach a JSON body written in more
than one way, so the condition also matches it as written inside a JSON string: quotes and backslashes escaped
(``{"city": "Oslo"}`` within arguments sent as a JSON-encoded string, case C08), and non-ASCII letters as
``\\u`` escapes (``"Z\\u00fcrich"`` for ``Zürich``, as Python's ``json.dumps`` writes them).

No index helps a substring search, and none is added: an index the webhook's writer had to keep would cost
every delivery on the hot path. The search is bounded instead: ``app.services.deliveries.list_deliveries``
reads at most the newest ``SEARCH_WINDOW`` deliveries matching its other filters (a ``task_id`` narrows it to
that run's, read through its index).
"""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import Boolean, ColumnElement, LargeBinary, bindparam, or_
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.functions import FunctionElement

SEARCH_WINDOW = 20_000
"""Deliveries a text search reads at most, newest first (each a byte search of its stored body)."""


def body_holds(column: ColumnElement[Any], text: str) -> ColumnElement[bool]:
    """The condition "``column`` (bytes) holds ``text``", in any of the forms ``needles`` gives."""
    return or_(*(_Holds(column, bindparam(None, needle, type_=LargeBinary)) for needle in needles(text)))


def needles(text: str) -> list[bytes]:
    """The byte strings a body holding ``text`` holds one of: its UTF-8 bytes, and the same text as written
    inside a JSON string (escaped quotes and backslashes; non-ASCII letters as ``\\u`` escapes); no repeats."""
    forms = [text, json.dumps(text, ensure_ascii=False)[1:-1], json.dumps(text)[1:-1]]
    return list(dict.fromkeys(form.encode("utf-8", "surrogatepass") for form in forms))


class _Holds(FunctionElement[bool]):
    """``haystack`` holds ``needle`` (both bytes): ``instr`` in SQLite, standard SQL's ``POSITION`` elsewhere
    (PostgreSQL has it for ``bytea``)."""

    type = Boolean()
    name = "holds"
    inherit_cache = True


@compiles(_Holds)
def _position(element: _Holds, compiler: Any, **kw: Any) -> str:
    haystack, needle = (compiler.process(clause, **kw) for clause in element.clauses)
    return f"(POSITION({needle} IN {haystack}) > 0)"


@compiles(_Holds, "sqlite")
def _instr(element: _Holds, compiler: Any, **kw: Any) -> str:
    haystack, needle = (compiler.process(clause, **kw) for clause in element.clauses)
    return f"(instr({haystack}, {needle}) > 0)"
