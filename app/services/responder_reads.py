"""The responder's reads, through the driver's cursor (``app.services.fast_sql``): a round's handler drafts, its
calls, whether it is ready to send, the handlers that answer it and the run's earlier results. Shared by
``app.services.responder_store``'s planning and its claim; each is one or two statements, a few microseconds,
where SQLAlchemy's ORM took about 0.4 ms of CPU per statement."""

from __future__ import annotations

from typing import Any

from sqlalchemy.engine import Dialect
from sqlmodel import Session

from app.answerers import Answerer
from app.models import Draft, Handler, OutboxItem, Round, ToolCallRow
from app.protocol import ToolResult
from app.services.demo import demo_handlers
from app.services.fast_sql import Cursor, read_row
from app.services.sweep_answers import sweep_handlers
from app.states import HANDLER_DRAFT_MODES, DraftMode, HandlerMode, HandlerSet

CALL = ToolCallRow.__table__  # type: ignore[attr-defined]
CALL_COLUMNS = ("tool_call_id", "name", "arguments", "arguments_text", "arguments_problem")
DRAFT = Draft.__table__  # type: ignore[attr-defined]
DRAFT_COLUMNS = (
    "tool_call_id", "mode", "output", "is_error",
    "answered_kind", "answered_version", "answered_user", "answered_replay_of",
)  # fmt: skip
HANDLER = Handler.__table__  # type: ignore[attr-defined]
HANDLER_COLUMNS = ("id", "agent_id", "tool_name", "kind", "mode", "spec", "behaviour", "version", "updated_at")
OUTBOX = OutboxItem.__table__  # type: ignore[attr-defined]
HANDLER_DRAFTS = f"mode IN ({', '.join('?' * len(HANDLER_DRAFT_MODES))})"
ROUND = Round.__table__  # type: ignore[attr-defined]


def drafts(cursor: Cursor, dialect: Dialect, round_id: int) -> dict[str, dict[str, Any]]:
    """The handler and replay drafts of the round (not a person's typed ones), by tool call id."""
    rows = cursor.execute(
        f"SELECT {', '.join(DRAFT_COLUMNS)} FROM draft WHERE round_id = ? AND {HANDLER_DRAFTS}",
        (round_id, *(mode.value for mode in HANDLER_DRAFT_MODES)),
    ).fetchall()
    return {row[0]: read_row(dialect, DRAFT, DRAFT_COLUMNS, row) for row in rows}


def ready(
    cursor: Cursor, dialect: Dialect, round_id: int, handlers: dict[str, Handler]
) -> tuple[list[ToolResult], dict[str, Answerer]] | None:
    """The round's results and who answered each, when every call has a replay draft or an auto handler's draft;
    the handlers' modes now, not when the drafts were made: a switch to auto sends a suggested round, a switch to
    manual while a handler was still answering keeps the round for a person."""
    calls = dict(
        cursor.execute("SELECT tool_call_id, name FROM tool_call WHERE round_id = ? ORDER BY position", (round_id,))
        .fetchall()
    )  # fmt: skip
    found = drafts(cursor, dialect, round_id)
    modes = {tool: handler.mode for tool, handler in handlers.items()}
    answered = [
        call in found and (found[call]["mode"] == DraftMode.REPLAY or modes.get(name) == HandlerMode.AUTO)
        for call, name in calls.items()
    ]
    if not calls or not all(answered):
        return None
    results = [
        ToolResult(tool_call_id=call, output=found[call]["output"], is_error=found[call]["is_error"]) for call in calls
    ]
    sources = {
        call: Answerer(
            kind=found[call]["answered_kind"],
            version=found[call]["answered_version"],
            user=found[call]["answered_user"],
            replay_of=found[call]["answered_replay_of"],
        )
        for call in calls
    }
    return results, sources


def handlers(
    session: Session, cursor: Cursor, dialect: Dialect, agent_id: str, handler_set: HandlerSet, task_id: int
) -> dict[str, Handler]:
    """The agent's handlers that are not manual, by tool name: the demo's set for a demo run, a sweep's for a sweep
    run (``app.services.sweep_answers``), else the saved ones."""
    if handler_set == HandlerSet.DEMO:
        return demo_handlers(agent_id)
    if handler_set == HandlerSet.CASSETTE:
        return {}  # a cassette answers every call (app.services.playback)
    if handler_set == HandlerSet.SWEEP:
        return sweep_handlers(session, agent_id, task_id)
    rows = cursor.execute(
        f"SELECT {', '.join(HANDLER_COLUMNS)} FROM handler WHERE agent_id = ? AND mode != ?",
        (agent_id, HandlerMode.MANUAL.value),
    ).fetchall()
    found = [Handler(**read_row(dialect, HANDLER, HANDLER_COLUMNS, row)) for row in rows]
    return {handler.tool_name: handler for handler in found}


def earlier_results(cursor: Cursor, dialect: Dialect, task_id: int) -> dict[str, str]:
    """The run's earlier tool results by tool name (the last one wins), what templates read as ``results``: those
    the platform acknowledged (``tool_result``), then those of submissions still in the outbox (``pending``: sent
    and not acknowledged yet, or to be sent again), round by round. A platform may open the run's next round
    before the console has stored the answer to the previous submission (the embedded simulator goes on as soon
    as it has accepted the results, while its answer is still on the way), and a template of that next round
    reads the previous round's results all the same."""
    rows = cursor.execute(
        "SELECT c.name, t.output FROM tool_result t"
        ' JOIN "round" r ON r.id = t.round_id'
        " JOIN tool_call c ON c.round_id = t.round_id AND c.tool_call_id = t.tool_call_id"
        " WHERE r.task_id = ? ORDER BY t.id",
        (task_id,),
    ).fetchall()
    results = dict(rows)
    pending = cursor.execute(
        "SELECT o.round_id, o.body FROM outbox o"
        ' JOIN "round" r ON r.id = o.round_id'
        " WHERE r.task_id = ? AND o.state = 'pending' ORDER BY r.round",
        (task_id,),
    ).fetchall()
    for round_id, stored in pending:
        body = read_row(dialect, OUTBOX, ("body",), (stored,))["body"] or {}
        names = dict(
            cursor.execute("SELECT tool_call_id, name FROM tool_call WHERE round_id = ?", (round_id,)).fetchall()
        )
        for result in body.get("results") or []:
            name = names.get(result.get("tool_call_id"))
            if name is not None and isinstance(result.get("output"), str):
                results[name] = result["output"]
    return results
