"""Applying a verified run status to the store, in SQLAlchemy Core on the caller's connection.

This is the webhook's hot path, so it speaks Core statements rather than ORM
units of work (about four times less CPU per delivery; see ``bench/ingest.py``).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, bindparam, insert, select, update
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from app.models import Round, Run, ToolCallRow
from app.protocol import AWAITING, RunStatus, is_terminal
from app.services.events import add_event
from app.states import EventKind, RoundState, RunStatusName, Verdict

RUNS = Run.__table__  # type: ignore[attr-defined]
ROUNDS = Round.__table__  # type: ignore[attr-defined]
TOOL_CALLS = ToolCallRow.__table__  # type: ignore[attr-defined]

# Statements built once; each call passes only parameters (no per-call compilation or value coercion).
_CLOSE_ROUNDS = (
    update(ROUNDS)
    .where(
        ROUNDS.c.task_id == bindparam("key"), ROUNDS.c.state == RoundState.PENDING, ROUNDS.c.round != bindparam("keep")
    )
    .returning(ROUNDS.c.id, ROUNDS.c.round)
)
_INSERT_RUN = insert(RUNS)
_UPDATE_RUN = update(RUNS).where(RUNS.c.task_id == bindparam("key"))
_OPEN_ROUND = sqlite_insert(ROUNDS).on_conflict_do_nothing(index_elements=["task_id", "round"]).returning(ROUNDS.c.id)


def apply_status(
    *, conn: Connection, status: RunStatus, delivery_id: int | None, now: float, console_made: bool = False
) -> tuple[Verdict, str]:
    """Apply ``status`` inside the caller's transaction; ``console_made`` (a replay of an edited body) marks every
    timeline line it writes, and a run it creates is started by ``console`` rather than ``platform``.

    Returns ``(verdict, summary)``: ``("applied", ...)`` when ``status.sequence``
    is above the run's newest, else ``("history", ...)`` and nothing moves
    (contract, "sequence": "it is recorded, but it never moves the task's state
    backwards").
    """
    current = conn.execute(
        select(RUNS.c.sequence, RUNS.c.status, RUNS.c.ended_at).where(RUNS.c.task_id == status.task_id)
    ).first()
    if current is not None and status.sequence <= current.sequence:
        summary = (
            f"late delivery: sequence {status.sequence} ({status.status}) after {current.sequence} "
            f"({current.status}); recorded as history"
        )
        add_event(
            db=conn,
            task_id=status.task_id,
            kind=EventKind.HISTORY,
            summary=summary,
            at=now,
            delivery_id=delivery_id,
            console_made=console_made,
        )
        return Verdict.HISTORY, summary
    values: dict[str, Any] = {
        "status": status.status,
        "sequence": status.sequence,
        "result": status.result,
        "error": status.error.model_dump() if status.error else None,
        "updated_at": now,
    }
    if status.round is not None:
        values["round"] = status.round
    if status.environment:
        values["environment"] = status.environment
    if is_terminal(status.status) and (current is None or current.ended_at is None):
        values["ended_at"] = now  # where the run's duration ends: later deliveries never move it
    if current is None:
        values.update(
            task_id=status.task_id,
            agent_id=status.agent_id,
            created_at=now,
            started_by="console" if console_made else "platform",
        )
        conn.execute(_INSERT_RUN, values)
        summary = status.status
    else:
        conn.execute(_UPDATE_RUN, {"key": status.task_id, **values})
        summary = f"{current.status} → {status.status}" if current.status != status.status else status.status
    summary = f"sequence {status.sequence}: {summary}"
    add_event(
        db=conn,
        task_id=status.task_id,
        kind=EventKind.STATE,
        summary=summary,
        at=now,
        delivery_id=delivery_id,
        console_made=console_made,
    )
    _close_stale_rounds(conn, status, now, console_made)
    if status.status == AWAITING and status.round is not None and status.tool_calls:
        _open_round(conn, status, delivery_id, now, console_made)
    return Verdict.APPLIED, summary


def _close_stale_rounds(conn: Connection, status: RunStatus, now: float, console_made: bool) -> None:
    """A pending round is closed when the run has moved past it; a round being submitted settles itself."""
    keep = status.round if status.status == AWAITING and status.round is not None else 0
    state = RoundState.EXPIRED if status.status == RunStatusName.EXPIRED else RoundState.CLOSED
    message = f"the run moved on to {status.status} before this round was answered"
    closed = conn.execute(
        _CLOSE_ROUNDS, {"key": status.task_id, "keep": keep, "state": state, "message": message}
    ).all()
    for round_id, number in closed:
        summary = f"round {number} {state}: {message}"
        add_event(
            db=conn,
            task_id=status.task_id,
            kind=EventKind.ROUND_CLOSED,
            summary=summary,
            at=now,
            round_id=round_id,
            console_made=console_made,
        )


def _open_round(conn: Connection, status: RunStatus, delivery_id: int | None, now: float, console_made: bool) -> None:
    assert status.round is not None and status.tool_calls
    round_values = {
        "task_id": status.task_id,
        "agent_id": status.agent_id,
        "round": status.round,
        "state": RoundState.PENDING,
        "expires_at": status.expires_at,
        "opened_at": now,
        "message": "",
    }
    opened = conn.execute(_OPEN_ROUND, round_values).first()
    if opened is None:
        return  # the round is already known (a re-sent status): keep its calls and answers
    round_id = opened.id
    conn.execute(
        insert(TOOL_CALLS),
        [
            {
                "round_id": round_id,
                "tool_call_id": call.id,
                "name": call.name,
                "arguments": call.arguments,
                "arguments_text": call.arguments_text,
                "arguments_problem": call.arguments_problem,
                "position": position,
            }
            for position, call in enumerate(status.tool_calls)
        ],
    )
    names = ", ".join(call.name for call in status.tool_calls)
    summary = f"round {status.round} waits on {len(status.tool_calls)} tool call(s): {names}"
    add_event(
        db=conn,
        task_id=status.task_id,
        kind=EventKind.ROUND_OPENED,
        summary=summary,
        at=now,
        delivery_id=delivery_id,
        round_id=round_id,
        console_made=console_made,
    )
