"""Runs: applying a platform status, recording a start, reading runs and their timelines.

All functions are blocking (SQLite); call them through ``run.io_bound`` from async code.
"""

from __future__ import annotations

import time

from sqlalchemy import Engine
from sqlmodel import Session, col, func, select

from app.db import read_session, write_session
from app.errors import NotFound
from app.models import Agent, Event, EventPublic, Round, Run, RunDetail, RunPublic, ToolCall
from app.protocol import AWAITING, RunStatus
from app.services.rounds import round_public


def apply_status(*, session: Session, status: RunStatus, delivery_id: int, now: float) -> tuple[str, str]:
    """Apply a verified status inside the caller's transaction.

    Returns ``(verdict, summary)``: ``("applied", ...)`` when ``status.sequence``
    is above the run's newest, else ``("history", ...)`` and nothing moves
    (contract, "sequence": "it is recorded, but it never moves the task's state
    backwards").
    """
    run = session.get(Run, status.task_id)
    if run is not None and status.sequence <= run.sequence:
        summary = (
            f"late delivery: sequence {status.sequence} ({status.status}) after {run.sequence} "
            f"({run.status}); recorded as history"
        )
        session.add(Event(task_id=run.task_id, at=now, kind="history", summary=summary, delivery_id=delivery_id))
        return "history", summary
    before = run.status if run is not None else None
    if run is None:
        run = Run(
            task_id=status.task_id,
            agent_id=status.agent_id,
            status=status.status,
            created_at=now,
            updated_at=now,
            started_by="platform",
        )
    run.status = status.status
    run.sequence = status.sequence
    run.round = status.round if status.round is not None else run.round
    run.environment = status.environment or run.environment
    run.result = status.result
    run.error = status.error.model_dump() if status.error else None
    run.updated_at = now
    session.add(run)
    summary = f"{before} → {status.status}" if before and before != status.status else status.status
    summary = f"sequence {status.sequence}: {summary}"
    session.add(Event(task_id=run.task_id, at=now, kind="state", summary=summary, delivery_id=delivery_id))
    _close_stale_rounds(session=session, status=status, now=now)
    if status.status == AWAITING and status.round is not None and status.tool_calls:
        _open_round(session=session, status=status, delivery_id=delivery_id, now=now)
    return "applied", summary


def record_run_started(
    *, engine: Engine, agent_id: str, task_id: int, string_inputs: dict[str, str], environment: str, started_by: str
) -> None:
    """Record a run the console started; a webhook that arrived first keeps its newer state."""
    now = time.time()
    with write_session(engine) as session:
        run = session.get(Run, task_id)
        if run is None:
            run = Run(task_id=task_id, agent_id=agent_id, status="queued", created_at=now, updated_at=now)
        run.string_inputs = string_inputs
        run.environment = run.environment or environment
        run.started_by = started_by
        session.add(run)
        session.add(Event(task_id=task_id, at=now, kind="started", summary=f"started by {started_by} in {environment}"))


def list_runs(*, engine: Engine, limit: int = 200, offset: int = 0) -> tuple[list[RunPublic], int]:
    """The newest runs first, and the total count."""
    with read_session(engine) as session:
        total = session.exec(select(func.count()).select_from(Run)).one()
        rows = session.exec(select(Run).order_by(col(Run.created_at).desc()).offset(offset).limit(limit)).all()
        names = _agent_names(session)
        return [_run_public(row, names) for row in rows], total


def get_run(*, engine: Engine, task_id: int) -> RunDetail:
    """One run with its rounds (tool calls and results) and its events in time order; raises ``NotFound``."""
    with read_session(engine) as session:
        run = session.get(Run, task_id)
        if run is None:
            raise NotFound(f"no run with task_id {task_id}: start one or wait for its first delivery")
        rounds = session.exec(select(Round).where(Round.task_id == task_id).order_by(col(Round.round))).all()
        events = session.exec(
            select(Event).where(Event.task_id == task_id).order_by(col(Event.at), col(Event.id))
        ).all()
        return RunDetail(
            **RunPublic.model_validate(run, from_attributes=True).model_dump(),
            rounds=[round_public(session, row) for row in rounds],
            events=[EventPublic.model_validate(event, from_attributes=True) for event in events],
        )


def _agent_names(session: Session) -> dict[str, str]:
    return {agent_id: name for agent_id, name in session.exec(select(Agent.agent_id, Agent.name)).all()}


def _run_public(row: Run, names: dict[str, str]) -> RunPublic:
    return RunPublic.model_validate(row, from_attributes=True).model_copy(
        update={"agent_name": names.get(row.agent_id)}
    )


def _open_round(*, session: Session, status: RunStatus, delivery_id: int, now: float) -> None:
    assert status.round is not None and status.tool_calls
    existing = session.exec(select(Round).where(Round.task_id == status.task_id, Round.round == status.round)).first()
    if existing is not None:
        return
    row = Round(
        task_id=status.task_id,
        agent_id=status.agent_id,
        round=status.round,
        expires_at=status.expires_at,
        opened_at=now,
    )
    session.add(row)
    session.flush()
    assert row.id is not None
    for position, call in enumerate(status.tool_calls):
        session.add(
            ToolCall(round_id=row.id, tool_call_id=call.id, name=call.name, arguments=call.arguments, position=position)
        )
    names = ", ".join(call.name for call in status.tool_calls)
    session.add(
        Event(
            task_id=status.task_id,
            at=now,
            kind="round_opened",
            delivery_id=delivery_id,
            round_id=row.id,
            summary=f"round {status.round} waits on {len(status.tool_calls)} tool call(s): {names}",
        )
    )


def _close_stale_rounds(*, session: Session, status: RunStatus, now: float) -> None:
    """A round still open when the run has moved past it can no longer be answered."""
    query = select(Round).where(Round.task_id == status.task_id, col(Round.state).in_(["pending", "submitting"]))
    for row in session.exec(query).all():
        if status.status == AWAITING and status.round == row.round:
            continue
        if row.state == "submitting":
            continue  # the submission's own answer settles it
        row.state = "expired" if status.status == "expired" else "closed"
        row.message = f"the run moved on to {status.status} before this round was answered"
        session.add(row)
        session.add(
            Event(
                task_id=status.task_id,
                at=now,
                kind="round_closed",
                round_id=row.id,
                summary=f"round {row.round} {row.state}: {row.message}",
            )
        )
