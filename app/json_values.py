"""Comparing JSON values: the one answer to "did this change?" and "are these the same?" (case C13).

Python's ``==`` says ``0 == False``, ``1 == True`` and ``1 == 1.0``, and so does every container holding them
(``{"ok": 1} == {"ok": True}``). For JSON those are different values: a handler saved with output ``false``
after ``0`` answers differently. ``canonical_json`` writes a value so that equal texts mean equal JSON values
(key order ignored; ``0``, ``false``, ``0.0`` and ``"0"`` all apart), and ``same_json`` compares by it.

Used by the database's JSON columns (``app.models.columns.JsonValue``: the ORM's own change check), handler
saves and imports (``handler_store``), past-call samples and *Compare*. The rules matcher ``equals`` is a
matcher, not a change check, and keeps its documented rule (``1`` matches ``1.0``, never ``true``).
"""

from __future__ import annotations

import json
import math
from typing import Annotated, Any

from pydantic import AfterValidator


def canonical_json(value: Any) -> str:
    """Compact JSON text with sorted keys; non-ASCII kept, ``NaN``/``Infinity`` written as Python does (so
    any value a column may hold has a text). Raises ``TypeError`` for a value that is not JSON."""
    return json.dumps(value, sort_keys=True, ensure_ascii=False, separators=(",", ":"))


def same_json(a: Any, b: Any) -> bool:
    """True when ``a`` and ``b`` are the same JSON value: ``same_json(0, False)`` and ``same_json(1, 1.0)``
    are False, ``same_json({"a": 1, "b": 2}, {"b": 2, "a": 1})`` is True."""
    if a is b:
        return True
    try:
        return canonical_json(a) == canonical_json(b)
    except (TypeError, ValueError, RecursionError):
        return bool(a == b)


MAX_VALUE_DEPTH = 100
"""Levels of nesting a JSON value sent to the console may have: as a tool call's arguments on the webhook
(``app.protocol.MAX_ARGUMENTS_DEPTH``). Deeper values could be stored but not written back (pydantic's JSON writer
stops at about 250 levels for a whole answer)."""


def json_value_problem(value: Any, *, max_depth: int = MAX_VALUE_DEPTH) -> str | None:
    """Why ``value`` (parsed JSON) cannot be stored and given back as JSON, or None: it nests deeper than
    ``max_depth`` levels, holds a NaN or infinite number (RFC 8259 has none), or a string (or key) with a lone
    UTF-16 surrogate (``"\\ud800"``: not Unicode text, so it cannot be written as UTF-8). The message names where,
    as ``.a.b[2]`` from the value's top. Walks iteratively: any depth is safe."""
    stack: list[tuple[str, Any, int]] = [("", value, 0)]
    while stack:
        path, item, depth = stack.pop()
        where = f" at {path}" if path else ""
        if isinstance(item, float) and not math.isfinite(item):
            shown = "NaN" if math.isnan(item) else ("Infinity" if item > 0 else "-Infinity")
            return f"{shown}{where} is not a JSON number (RFC 8259 has no NaN or Infinity)"
        if isinstance(item, str) and not _is_unicode(item):
            return f"a string{where} holds a lone UTF-16 surrogate: not Unicode text"
        if isinstance(item, dict | list):
            if depth + 1 > max_depth:
                return f"it nests more than {max_depth} levels deep"
            if isinstance(item, dict):
                for key, child in reversed(list(item.items())):
                    if isinstance(key, str) and not _is_unicode(key):
                        return f"a key{where} holds a lone UTF-16 surrogate: not Unicode text"
                    stack.append((f"{path}.{key}", child, depth + 1))
            else:
                stack.extend((f"{path}[{i}]", child, depth + 1) for i, child in reversed(list(enumerate(item))))
    return None


def checked_json_value(value: Any, max_depth: int = MAX_VALUE_DEPTH) -> Any:
    """``value`` as it is; raises ``ValueError`` with ``json_value_problem``'s reason (a pydantic validator, as in
    ``JsonObject``: a body's 422 then names the field)."""
    problem = json_value_problem(value, max_depth=max_depth)
    if problem is not None:
        raise ValueError(problem)
    return value


MAX_SETTINGS_DEPTH = MAX_VALUE_DEPTH + 20
"""Levels a handler's ``spec`` or ``behaviour`` may nest: a value in a rule (a matcher's, an output, a
``set_state``) as deep as a call's arguments, plus the rules' own levels."""

JsonObject = Annotated[dict[str, Any], AfterValidator(checked_json_value)]
"""A JSON object sent to the console (arguments, a run's state): refused by ``json_value_problem``."""


def _is_unicode(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True
