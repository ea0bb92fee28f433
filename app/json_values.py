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
from typing import Any


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
