"""The python part of the handler editor: the snippet in a code editor, capped in size, with its error lines marked."""

from __future__ import annotations

import re
from typing import Any

from nicegui import ui

from app.ui.components.handler_rules import DraftProblem

TEMPLATE = 'async def handle(args: dict, agent_id: str, task_id: int) -> str:\n    return "ok"\n'
HINT = (
    "Define `handle(args, agent_id, task_id)` (async or plain). An optional `class Args(BaseModel)` validates "
    "the arguments first. A returned str is the result as is; any other value is JSON-encoded. print() output "
    "shows under Logs in Test. Runs out of process with a 5 s limit."
)
MAX_CODE_CHARS = 100_000
"""Browser messages over about 1 MB are dropped (NiceGUI), so the code editor stops at this many characters."""


class PythonFields:
    """A Python code editor prefilled with a working ``handle``; warns once the code passes ``MAX_CODE_CHARS``."""

    def __init__(self, spec: dict[str, Any]) -> None:
        ui.markdown(HINT).classes("text-sm text-grey-7")
        self.code = (
            ui.codemirror(str(spec.get("code") or TEMPLATE), language="Python", on_change=self._check_length)
            .classes("w-full h-72 border border-gray-300 rounded")
            .mark("python-code")
        )
        self.too_long = ui.label().classes("text-negative text-sm").mark("python-too-long")
        self._check_length()

    def spec(self) -> dict[str, Any]:
        """``{"code": ...}``; raises ``DraftProblem`` when the code is over the cap."""
        code = self.code.value or ""
        if len(code) > MAX_CODE_CHARS:
            raise DraftProblem(f"the code is over {MAX_CODE_CHARS:,} characters: shorten it")
        return {"code": code}

    def flag(self, message: str | None) -> None:
        """Mark the lines a problem names ("line 2: SyntaxError: …") in red; ``None`` clears them."""
        lines = (self.code.value or "").count("\n") + 1
        numbers = sorted({int(n) for n in re.findall(r"\bline (\d+)", message or "")})
        self.code.decorations = [{"kind": "line", "line": n, "class": "bg-red-1"} for n in numbers if n <= lines]

    def _check_length(self) -> None:
        size = len(self.code.value or "")
        over = size > MAX_CODE_CHARS
        self.too_long.set_text(
            f"The code is {size:,} characters; the limit is {MAX_CODE_CHARS:,} (the browser drops larger messages). "
            "Shorten it to save or test."
            if over
            else ""
        )
        self.too_long.set_visibility(over)
