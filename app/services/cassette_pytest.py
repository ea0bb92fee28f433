"""*Export as pytest*: a cassette as a Python module with its data and pytest fixtures that answer tool calls from it.

The module needs pytest and the standard library only, no Tooldesk: the matching code is
``app.services.cassette_match`` copied in as it is, so calls are matched exactly as the console's playback matches
them. It defines ``CASSETTE`` (the document, ``app.services.cassettes.CassetteDocument``), ``Player`` and two
fixtures, ``cassette`` (strict) and ``loose_cassette``. A ``Player`` answers ``player("get_weather", {"city":
"Bergen"})`` with ``{"output": ..., "is_error": ...}`` (an unmatched call gets the console's error text, ``is_error``
true), and ``player.tools`` is a ``tools`` dict in the platform SDK's shape (``{"get_weather": (None, async
handler)}``; a handler raises ``CassetteError`` for an error result, which the SDK turns into ``is_error``).
Put the file beside your tests and import the fixtures in ``conftest.py``:
``from cassette_trip_planner_run_1001 import cassette, loose_cassette  # noqa: F401``.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

from app.services import cassette_match
from app.services.cassettes import CassetteDocument

_MATCHING_SOURCE = Path(cassette_match.__file__).read_text(encoding="utf-8")

_HEADER = '''"""Cassette {name} (agent {agent_id}, {entries} entries) as pytest fixtures, exported by Tooldesk.

Needs pytest only. In conftest.py: ``from {module} import cassette, loose_cassette  # noqa: F401``; then a test asks
for ``cassette`` (strict matching) or ``loose_cassette`` and calls ``cassette("tool", {{...arguments}})`` for
``{{"output": ..., "is_error": ...}}``, or hands ``cassette.tools`` to the platform SDK.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

CASSETTE: dict[str, Any] = json.loads({document!r})
'''

_PLAYER = '''

class CassetteError(Exception):
    """An error tool result from the cassette (recorded as ``is_error``, or an unmatched call)."""


class Player:
    """Answers tool calls from ``CASSETTE``'s entries with ``matching`` ("strict" or "loose"), as Tooldesk does."""

    def __init__(self, cassette: dict[str, Any], matching: str = STRICT) -> None:
        self.entries: list[dict[str, Any]] = cassette["entries"]
        self.matching = matching
        self.used: list[int] = []

    def __call__(self, tool_name: str, arguments: Any) -> dict[str, Any]:
        index = match_call(self.entries, self.used, tool_name, arguments, self.matching)
        if index is None:
            return {"output": unmatched_output(self.entries, self.used, tool_name, arguments, self.matching),
                    "is_error": True}
        self.used.append(index)
        entry = self.entries[index]
        return {"output": entry["output"], "is_error": bool(entry.get("is_error", False))}

    @property
    def tools(self) -> dict[str, Any]:
        """``{tool name: (None, handler)}``, the platform SDK's ``tools`` shape."""
        return {name: (None, self._handler(name)) for name in sorted({e["tool_name"] for e in self.entries})}

    def _handler(self, tool_name: str) -> Any:
        async def handle(args: dict[str, Any], agent_id: str, task_id: int) -> str:
            answer = self(tool_name, args)
            if answer["is_error"]:
                raise CassetteError(answer["output"])
            return str(answer["output"])

        handle.__name__ = tool_name
        return handle


@pytest.fixture
def cassette() -> Player:
    """A fresh strict player of ``CASSETTE`` for each test."""
    return Player(CASSETTE, STRICT)


@pytest.fixture
def loose_cassette() -> Player:
    """A fresh loose player of ``CASSETTE`` for each test."""
    return Player(CASSETTE, LOOSE)
'''


def _plain(text: str) -> str:
    """``text`` safe inside the module's docstring."""
    return re.sub(r"[^\w .:-]", "?", text)


def module_name(name: str) -> str:
    """The exported module's name for cassette ``name``: ``cassette_trip_planner_run_1001``."""
    return "cassette_" + (re.sub(r"\W+", "_", name.lower()).strip("_") or "export")


def export_pytest(document: CassetteDocument) -> str:
    """The module's source for ``document`` (see the module docstring)."""
    header = _HEADER.format(
        name=_plain(document.name),
        agent_id=_plain(document.agent_id),
        entries=len(document.entries),
        module=module_name(document.name),
        document=json.dumps(document.model_dump(mode="json"), ensure_ascii=False, indent=1),
    )
    matching = _MATCHING_SOURCE.split("from __future__ import annotations\n", 1)[1]
    matching = matching.replace("import json\nfrom typing import Any\n", "", 1)
    return header + "\n# matching, as Tooldesk's app/services/cassette_match.py" + matching + _PLAYER
