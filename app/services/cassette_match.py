"""Which entry of a cassette answers a tool call: strict or loose matching, as pure functions of plain JSON data.

This module imports nothing from Tooldesk (only the standard library): *Export as pytest* copies its source into
the exported file, so a test suite plays a cassette back exactly as the console does.

An entry is ``{"round": 1, "tool_name": "get_weather", "arguments": {"city": "Bergen"}, "output": "...",
"is_error": false}``; ``used`` lists the indexes of the entries earlier calls of the same run took, in order.

- **strict**: the call must equal the next unused entry (the lowest index not in ``used``): same tool, arguments
  equal as JSON (compared as canonical JSON text: keys sorted, so key order never matters, but ``1`` and ``1.0`` or
  ``1`` and ``true`` differ). A call that does not is *unmatched*; the entry stays next.
- **loose**: among the entries of the call's tool, the unused one whose arguments overlap most (the number of
  top-level keys with equal values; ties go to the earliest); when every entry of that tool is used, the same among
  all of them (an agent that asks more often than the recording did gets the best answer again). Unmatched only when
  the cassette has no entry for the tool.

An unmatched call gets an error tool result whose text names the call and what the cassette expected
(``unmatched_output``).
"""

from __future__ import annotations

import json
from typing import Any

STRICT = "strict"
LOOSE = "loose"


def canonical(value: Any) -> str:
    """``value`` as canonical JSON text: keys sorted, no spaces; what "equal as JSON" compares."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def match_call(
    entries: list[dict[str, Any]], used: list[int], tool_name: str, arguments: Any, matching: str
) -> int | None:
    """The index of the entry that answers the call ``tool_name(arguments)``, or ``None`` when it is unmatched
    (``matching`` is ``"strict"`` or ``"loose"``, as the module docstring says)."""
    if matching == STRICT:
        following = _next_unused(entries, used)
        if following is None:
            return None
        entry = entries[following]
        same = entry["tool_name"] == tool_name and canonical(entry.get("arguments", {})) == canonical(arguments)
        return following if same else None
    of_tool = [index for index, entry in enumerate(entries) if entry["tool_name"] == tool_name]
    unused = [index for index in of_tool if index not in used]
    candidates = unused or of_tool
    if not candidates:
        return None
    return max(candidates, key=lambda index: (_overlap(entries[index].get("arguments", {}), arguments), -index))


def unmatched_output(
    entries: list[dict[str, Any]], used: list[int], tool_name: str, arguments: Any, matching: str
) -> str:
    """The error result's text for an unmatched call: the call, and what the cassette had instead."""
    call = f"{tool_name} {canonical(arguments)}"
    if matching == STRICT:
        following = _next_unused(entries, used)
        if following is None:
            return f"no cassette entry for {call}: strict playback has used all {len(entries)} entries"
        entry = entries[following]
        expected = f"{entry['tool_name']} {canonical(entry.get('arguments', {}))}"
        return (
            f"no cassette entry for {call}: strict playback expected {expected} next "
            f"(entry {following + 1} of {len(entries)})"
        )
    tools = sorted({entry["tool_name"] for entry in entries})
    return f"no cassette entry for {call}: the cassette has no call of {tool_name} (it has {', '.join(tools)})"


def _next_unused(entries: list[dict[str, Any]], used: list[int]) -> int | None:
    taken = set(used)
    return next((index for index in range(len(entries)) if index not in taken), None)


def _overlap(recorded: Any, arguments: Any) -> int:
    """How many top-level keys have equal values in both (for objects); 1 for equal non-objects, else 0."""
    if isinstance(recorded, dict) and isinstance(arguments, dict):
        return sum(
            1 for key, value in arguments.items() if key in recorded and canonical(recorded[key]) == canonical(value)
        )
    return int(canonical(recorded) == canonical(arguments))
