"""What every in-process handler returns: one tool result, before it is sent.

An ``Answer`` becomes one entry of ``send_tool_responses``' ``results`` (CONTRACT.md,
"Tool results"): ``output`` is always a string, ``is_error`` tells the model that the
tool failed. ``note`` is for the person at the console only (never sent): which rule
matched, "default", "no rule matched", "simulated failure".
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Answer:
    """One tool result: ``output`` text, ``is_error`` flag, and a ``note`` for the console (e.g. "rule 2 (regex on city)").

    A rules handler's answer that no rule gave (the default's, or the error without one) has ``unmatched`` set
    and, when the arguments parsed and some rule is on, ``nearest``: the nearest rule as ``{"rule_index",
    "label", "matched", "total", "checks": [{"matcher_index", "matched", "text"}], "text"}``."""

    output: str
    is_error: bool
    note: str = ""
    unmatched: bool = False
    nearest: dict[str, Any] | None = None


def encode_output(value: Any) -> str:
    """A string stays as it is; any other JSON value is JSON-encoded (``ensure_ascii=False``), as the contract asks."""
    if isinstance(value, str):
        return value
    return json.dumps(value, ensure_ascii=False)
