"""What a robustness sweep answers: the cells' values for the swept tool, and the handlers of a sweep's run.

A sweep run is marked ``Run.handler_set = sweep`` (as a demo run is marked ``demo``), and the responder
(``app.services.responder_store``) asks ``sweep_handlers`` for its handlers instead of the saved ones:

- the swept tool gets a static handler answering its cell's value (``cell_answer``); a ``no_answer`` cell gets no
  handler at all, so the round waits until the platform expires it;
- a ``normal`` cell without a value keeps the tool's own handler;
- every other tool is answered by its handler: the saved one in whatever mode (a sweep runs unattended, so a
  manual or suggest handler answers too), else the demo set's (``app.services.demo``); a tool with neither waits
  for a person, as in any run.

Blocking (reads the database): called on the handlers' pool.
"""

from __future__ import annotations

import json
import time
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator
from sqlmodel import Session, col, select

from app.handlers.static import JsonOutput
from app.json_values import checked_json_value
from app.models import Handler, Sweep, SweepRun
from app.services.demo import demo_handlers
from app.states import HandlerKind, HandlerMode, SweepCellKind

MAX_VALUE_CHARS = 200_000
"""Characters a cell's given value may have, JSON-encoded (the 100 KB cell is 102,400)."""
LARGE_CHARS = 100 * 1024
"""The ``large`` cell's output: 100 KB of ASCII text."""
UNICODE_TEXT = (
    "Ünïcødé ✓ — 東京 🌧️ 👩‍👩‍👧 naïve café; "
    "עברית: שלום עולם, היום יירד גשם; "
    "العربية: مرحبا بالعالم، الطقس ممطر؛ "
    "\u202ereversed by an override\u202c \u200fRTL mark\u200f \u200bzero-width\u200b e\u0301 \ufeff"
)
"""Right-to-left scripts (Hebrew, Arabic), a right-to-left override, marks and zero-width characters, combining
accents, emoji sequences and CJK in one output."""
MALFORMED_JSON = '{"status": "ok", "items": [{"id": 1, "name": "fir'
"""JSON cut off in the middle of a string: what a tool that crashed mid-write sends."""
DEFAULT_ERROR = "the tool failed (robustness sweep: an error result on purpose)"


class Cell(BaseModel):
    """One cell of a sweep: ``kind``, and for ``normal`` an optional ``value`` (text or any JSON value, sent as a
    tool result; none: the tool's own handler answers), for ``is_error`` an optional error text. ``label`` names
    the cell in the table (default: its kind)."""

    model_config = ConfigDict(extra="forbid")

    kind: SweepCellKind
    value: JsonOutput = None
    label: str | None = Field(default=None, max_length=100)

    @field_validator("value")
    @classmethod
    def _bounded(cls, value: Any) -> Any:
        checked_json_value(value)
        size = len(value) if isinstance(value, str) else len(json.dumps(value))
        if size > MAX_VALUE_CHARS:
            raise ValueError(f"{size:,} characters: at most {MAX_VALUE_CHARS:,} (the large cell sends 100 KB)")
        return value

    @property
    def title(self) -> str:
        """What the table calls the cell: its label, else its kind, with the start of a value given."""
        if self.label:
            return self.label
        if self.value is None:
            return str(self.kind)
        shown = self.value if isinstance(self.value, str) else json.dumps(self.value, ensure_ascii=False)
        return f"{self.kind}: {shown[:40]}{'…' if len(shown) > 40 else ''}"


def cell_answer(cell: Cell) -> tuple[JsonOutput, bool] | None:
    """``(output, is_error)`` the swept tool answers in ``cell``; ``None`` for ``no_answer``, and for ``normal``
    without a value (the tool's own handler answers)."""
    match cell.kind:
        case SweepCellKind.NORMAL:
            return None if cell.value is None else (cell.value, False)
        case SweepCellKind.EMPTY:
            return "", False
        case SweepCellKind.IS_ERROR:
            return (DEFAULT_ERROR if cell.value is None else cell.value), True
        case SweepCellKind.LARGE:
            return large_text(), False
        case SweepCellKind.UNICODE:
            return UNICODE_TEXT, False
        case SweepCellKind.MALFORMED_JSON:
            return MALFORMED_JSON, False
    return None  # no_answer


def large_text() -> str:
    """``LARGE_CHARS`` characters of plain text, the same every time."""
    line = "This is line {:05d} of a 100 KB tool result, padded to its full size. "
    text = "".join(line.format(n) for n in range(LARGE_CHARS // 60 + 1))
    return text[:LARGE_CHARS]


def own_handlers(session: Session, agent_id: str) -> dict[str, Handler]:
    """The agent's handlers a sweep uses for tools other than the swept one (and a ``normal`` cell without a value),
    by tool name: the saved ones in any mode, else the demo set's; copies in auto mode, never added to a session."""
    found = dict(demo_handlers(agent_id))
    for saved in session.exec(select(Handler).where(Handler.agent_id == agent_id)).all():
        found[saved.tool_name] = saved
    return {tool: _auto_copy(handler) for tool, handler in found.items()}


def sweep_handlers(session: Session, agent_id: str, task_id: int) -> dict[str, Handler]:
    """The handlers of sweep run ``task_id`` by tool name (see the module's docstring); empty while the run is not
    yet linked to its sweep (the start's answer had not been stored: ``Runtime.run_started`` asks again)."""
    found = session.exec(
        select(SweepRun, Sweep).join(Sweep, col(Sweep.id) == col(SweepRun.sweep_id)).where(SweepRun.task_id == task_id)
    ).first()
    if found is None:
        return {}
    sweep_run, sweep = found
    handlers = own_handlers(session, agent_id)
    cell = Cell.model_validate(sweep.cells[sweep_run.cell])
    answer = cell_answer(cell)
    if cell.kind == SweepCellKind.NO_ANSWER:
        handlers.pop(sweep.tool_name, None)
    elif answer is not None:
        output, is_error = answer
        handlers[sweep.tool_name] = Handler(
            agent_id=agent_id,
            tool_name=sweep.tool_name,
            kind=HandlerKind.STATIC,
            mode=HandlerMode.AUTO,
            spec={"output": output, "is_error": is_error},
            behaviour={},
            version=0,
            updated_at=time.time(),
        )
    return handlers


def _auto_copy(handler: Handler) -> Handler:
    copied = Handler.model_validate(handler.model_dump(exclude={"id"}))
    copied.mode = HandlerMode.AUTO
    return copied
