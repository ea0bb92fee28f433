"""Applying a verified run status to the store, on the caller's connection and transaction.

This is the webhook's hot path, so it writes through the DBAPI cursor under the connection
(``app.services.fast_sql``: plain SQL, each column's own bind processor) rather than ORM units of work or Core
statements: about four times less CPU than Core, which was four times less than the ORM.

On PostgreSQL, where several consoles may write at once, the run's row is read ``FOR UPDATE``: two deliveries of
one run wait for each other, so the second sees the first's sequence and cannot move the run backwards.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any, NamedTuple

from sqlalchemy import Connection

from app.models import Round, Run, ToolCallRow
from app.protocol import AWAITING, RunStatus, is_terminal
from app.services.events import TimelineBatch, add_event
from app.services.fast_sql import Cursor, cursor_of, insert_row, insert_rows, update_row
from app.states import EventKind, RoundState, RunStatusName, Verdict

RUNS = Run.__table__  # type: ignore[attr-defined]
ROUNDS = Round.__table__  # type: ignore[attr-defined]
TOOL_CALLS = ToolCallRow.__table__  # type: ignore[attr-defined]

_RUN_NOW = "sequence, status, ended_at, replay_of IS NOT NULL OR coalesce(handler_set, 'saved') != 'saved'"
"""The columns of a run that applying a delivery reads (``RunNow``)."""
_CURRENT = f"SELECT {_RUN_NOW} FROM run WHERE task_id = ?"
_CURRENT_LOCKED = _CURRENT + " FOR UPDATE"
"""PostgreSQL: the run's row stays locked until the transaction ends (SQLite has one writer at a time anyway)."""

RunNow = tuple[int, str, float | None, bool]
"""What applying a delivery reads of its run (``_RUN_NOW``): its newest ``sequence``, ``status``, ``ended_at`` (Unix
seconds or None) and whether it answers its rounds with answers of its own."""


def read_runs(conn: Connection, cursor: Cursor, task_ids: Iterable[int]) -> dict[int, RunNow | None]:
    """Runs ``task_ids`` as ``apply_delivery`` reads them, in one statement (None for a run not stored yet); on
    PostgreSQL locked until the transaction ends, in ``task_id`` order as one delivery at a time would lock them.
    For a batch of deliveries: on PostgreSQL each statement is an exchange with the server."""
    wanted = sorted(set(task_ids))
    runs: dict[int, RunNow | None] = dict.fromkeys(wanted)
    if not wanted:
        return runs
    query = f"SELECT task_id, {_RUN_NOW} FROM run WHERE task_id IN ({', '.join('?' * len(wanted))}) ORDER BY task_id"
    if conn.dialect.name != "sqlite":
        query += " FOR UPDATE"
    for task_id, *current in cursor.execute(query, wanted).fetchall():
        runs[task_id] = (current[0], current[1], current[2], bool(current[3]))
    return runs


_CLOSE_ROUNDS = (
    "UPDATE round SET state = ?, message = ? WHERE task_id = ? AND state = 'pending' AND round != ? RETURNING id, round"
)
_OPEN_ROUND = (
    "INSERT INTO round (task_id, agent_id, round, state, expires_at, opened_at, message) VALUES (?, ?, ?, ?, ?, ?, ?) "
    "ON CONFLICT (task_id, round) DO NOTHING RETURNING id"
)


class Applied(NamedTuple):
    """What ``apply_delivery`` did: the ``verdict`` and its ``summary``; ``own_answers`` when the run's rounds are
    answered by answers of its own whatever the saved handlers (a replay of another run, or the demo's handler set:
    ``app.services.responder_store.plan_rounds``)."""

    verdict: Verdict
    summary: str
    own_answers: bool


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
    applied = apply_delivery(conn=conn, status=status, delivery_id=delivery_id, now=now, console_made=console_made)
    return applied.verdict, applied.summary


def apply_delivery(
    *,
    conn: Connection,
    status: RunStatus,
    delivery_id: int | None,
    now: float,
    console_made: bool = False,
    store: Callable[[Verdict, str], int] | None = None,
    timeline: TimelineBatch | None = None,
    runs: dict[int, RunNow | None] | None = None,
) -> Applied:
    """``apply_status``, saying also whether the run answers its rounds with answers of its own (``Applied``).

    ``store(verdict, summary)``, when given, stores the delivery itself once its verdict is known and before
    anything is written, and returns its id (used instead of ``delivery_id``): the delivery's row is written once,
    with its verdict, and whatever it raises (a repeated ``webhook-id``) comes before any change to the run.
    ``timeline``, when given, holds the timeline lines for its batch's ``write`` instead of storing each now.
    ``runs``, when given, is where the run is read (``read_runs``, for a whole batch at once) and left as this
    delivery leaves it; a run it does not hold is read from the database."""
    cursor = cursor_of(conn)
    lines: Cursor | TimelineBatch = cursor if timeline is None else timeline
    if runs is not None and status.task_id in runs:
        current = runs[status.task_id]
    else:
        current = cursor.execute(
            _CURRENT if conn.dialect.name == "sqlite" else _CURRENT_LOCKED, (status.task_id,)
        ).fetchone()
    if current is not None and status.sequence <= current[0]:
        summary = (
            f"late delivery: sequence {status.sequence} ({status.status}) after {current[0]} "
            f"({current[1]}); recorded as history"
        )
        if store is not None:
            delivery_id = store(Verdict.HISTORY, summary)
        add_event(
            db=lines,
            task_id=status.task_id,
            kind=EventKind.HISTORY,
            summary=summary,
            at=now,
            delivery_id=delivery_id,
            console_made=console_made,
        )
        return Applied(Verdict.HISTORY, summary, bool(current[3]))
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
    if is_terminal(status.status) and (current is None or current[2] is None):
        values["ended_at"] = now  # where the run's duration ends: later deliveries never move it
    if current is None:
        summary = f"sequence {status.sequence}: {status.status}"
    else:
        moved = f"{current[1]} → {status.status}" if current[1] != status.status else status.status
        summary = f"sequence {status.sequence}: {moved}"
    if store is not None:
        delivery_id = store(Verdict.APPLIED, summary)
    if current is None:
        values.update(
            task_id=status.task_id,
            agent_id=status.agent_id,
            created_at=now,
            started_by="console" if console_made else "platform",
        )
        insert_row(cursor, conn.dialect, RUNS, values)
    else:
        update_row(cursor, conn.dialect, RUNS, ("task_id", status.task_id), values)
    add_event(
        db=lines,
        task_id=status.task_id,
        kind=EventKind.STATE,
        summary=summary,
        at=now,
        delivery_id=delivery_id,
        console_made=console_made,
    )
    if runs is not None:
        ended_at = values.get("ended_at", current[2] if current is not None else None)
        runs[status.task_id] = (status.sequence, status.status, ended_at, current is not None and bool(current[3]))
    if current is not None:  # a run created just now has no round to close yet
        _close_stale_rounds(cursor, lines, status, now, console_made)
    if status.status == AWAITING and status.round is not None and status.tool_calls:
        _open_round(conn, cursor, lines, status, delivery_id, now, console_made)
    return Applied(Verdict.APPLIED, summary, current is not None and bool(current[3]))


def _close_stale_rounds(
    cursor: Cursor, lines: Cursor | TimelineBatch, status: RunStatus, now: float, console_made: bool
) -> None:
    """A pending round is closed when the run has moved past it; a round being submitted settles itself."""
    keep = status.round if status.status == AWAITING and status.round is not None else 0
    state = RoundState.EXPIRED if status.status == RunStatusName.EXPIRED else RoundState.CLOSED
    message = f"the run moved on to {status.status} before this round was answered"
    closed = cursor.execute(_CLOSE_ROUNDS, (str(state), message, status.task_id, keep)).fetchall()
    for round_id, number in closed:
        summary = f"round {number} {state}: {message}"
        add_event(
            db=lines,
            task_id=status.task_id,
            kind=EventKind.ROUND_CLOSED,
            summary=summary,
            at=now,
            round_id=round_id,
            console_made=console_made,
        )


def _open_round(
    conn: Connection,
    cursor: Cursor,
    lines: Cursor | TimelineBatch,
    status: RunStatus,
    delivery_id: int | None,
    now: float,
    console_made: bool,
) -> None:
    assert status.round is not None and status.tool_calls
    expires_at = ROUNDS.c.expires_at.type.bind_processor(conn.dialect)
    values = (
        status.task_id,
        status.agent_id,
        status.round,
        str(RoundState.PENDING),
        status.expires_at if expires_at is None else expires_at(status.expires_at),
        now,
        "",
    )
    opened = cursor.execute(_OPEN_ROUND, values).fetchall()
    if not opened:
        return  # the round is already known (a re-sent status): keep its calls and answers
    round_id = opened[0][0]
    insert_rows(
        cursor,
        conn.dialect,
        TOOL_CALLS,
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
        db=lines,
        task_id=status.task_id,
        kind=EventKind.ROUND_OPENED,
        summary=summary,
        at=now,
        delivery_id=delivery_id,
        round_id=round_id,
        console_made=console_made,
    )
