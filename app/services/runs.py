"""Runs: recording a start, reading runs and their timelines (applying a status is ``services.apply``).

All functions are blocking (SQLite); call them through ``run.io_bound`` from async code.
"""

from __future__ import annotations

import time

from sqlalchemy import Engine
from sqlmodel import Session, col, func, select

from app.db import read_session, write_session
from app.errors import NotFound
from app.models import Agent, Event, EventPublic, Round, Run, RunDetail, RunPublic
from app.services.rounds import round_public


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
            **_run_public(run, _agent_names(session)).model_dump(),
            rounds=[round_public(session, row) for row in rounds],
            events=[EventPublic.model_validate(event, from_attributes=True) for event in events],
        )


def _agent_names(session: Session) -> dict[str, str]:
    return {agent_id: name for agent_id, name in session.exec(select(Agent.agent_id, Agent.name)).all()}


def _run_public(row: Run, names: dict[str, str]) -> RunPublic:
    return RunPublic.model_validate(row, from_attributes=True).model_copy(
        update={"agent_name": names.get(row.agent_id)}
    )
