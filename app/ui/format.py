"""Small formatting helpers shared by the pages."""

from __future__ import annotations

import json
import time
from typing import Any

from app.protocol import deadline_seconds


def clock(seconds: float | None) -> str:
    """Unix seconds as local ``HH:MM:SS``; empty for ``None``."""
    return time.strftime("%H:%M:%S", time.localtime(seconds)) if seconds else ""


def stamp(seconds: float | None) -> str:
    """Unix seconds as local ``YYYY-MM-DD HH:MM:SS``."""
    return time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(seconds)) if seconds else ""


def duration(seconds: float | None) -> str:
    """``0.4 s``, ``12 s``, ``3 min 5 s``."""
    if seconds is None:
        return ""
    if seconds < 10:
        return f"{seconds:.1f} s"
    if seconds < 120:
        return f"{seconds:.0f} s"
    return f"{int(seconds // 60)} min {int(seconds % 60)} s"


def browser_id(value: int | None) -> str:
    """An id as the browser gets it: text, never a JS number (case C11: a task_id beyond 2**53 such as
    9007199254740993 would be rounded to its neighbour). Empty for ``None``."""
    return "" if value is None else str(value)


def id_from_browser(value: Any) -> int | None:
    """An id the browser sent back (always as text, see ``browser_id``): the positive 64-bit integer, else
    ``None``. A JS number is refused, not trusted: it may already be rounded."""
    if not isinstance(value, str) or not (value.isascii() and value.isdigit()):
        return None
    number = int(value)
    return number if 0 < number < 2**63 else None


def id_from_row_click(args: Any, key: str) -> int | None:
    """The id under ``key`` of the row a ``ui.table`` ``rowClick`` event names (``[event, row, index]``), parsed
    by ``id_from_browser``; ``None`` for any other shape (a browser can send any event)."""
    row = args[1] if isinstance(args, list) and len(args) > 1 else None
    return id_from_browser(row.get(key)) if isinstance(row, dict) else None


def pretty_json(value: Any) -> str:
    """Indented JSON, non-ASCII kept as is (case C01: é stays é)."""
    return json.dumps(value, indent=2, ensure_ascii=False)


def expiry(iso: str) -> str:
    """An ISO-8601 deadline as local ``HH:MM:SS``; the text as given when it does not parse."""
    seconds = deadline_seconds(iso)
    return clock(seconds) if seconds is not None else iso


class JsonProblem(ValueError):
    """Text that is not strict JSON; the message says where or why. ``line`` and ``column`` (1-based) point at a
    syntax error, ``None`` when the problem has no one place."""

    def __init__(self, message: str, *, line: int | None = None, column: int | None = None) -> None:
        super().__init__(message)
        self.line = line
        self.column = column


def parse_json(text: str) -> Any:
    """Strict JSON (RFC 8259): raises ``JsonProblem`` for a syntax error (with line and column), for Python's
    ``NaN``/``Infinity`` extras, and for nesting too deep to parse."""
    try:
        return json.loads(text, parse_constant=_not_json)
    except json.JSONDecodeError as exc:
        raise JsonProblem(
            f"{exc.msg} (line {exc.lineno}, column {exc.colno})", line=exc.lineno, column=exc.colno
        ) from None
    except RecursionError:
        raise JsonProblem("nested too deeply") from None


def _not_json(name: str) -> Any:
    raise JsonProblem(f"{name} is not a JSON value")
