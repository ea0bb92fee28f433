"""Robustness sweeps: answer one tool of an agent with a matrix of bad answers and see how its runs end.

``create_sweep`` checks the body and stores the sweep with one ``sweep_run`` row per run to start (cells ×
``runs_per_cell``, at most ``MAX_RUNS``); ``start_sweep_runs`` then starts them one after another through the
platform client, as *Start run* does, each marked ``Run.handler_set = sweep`` so the responder answers it with the
sweep's handlers (``app.services.sweep_answers``). ``resume_sweeps`` starts at start-up what a stopped console had
not started yet. The table of outcomes is read by ``app.services.sweep_table``.

"No answer" cells end when the platform expires the round. ``round_ttl`` (seconds) asks the platform to expire
this sweep's rounds sooner (``StartRunWithExpiry``: an extension the simulators honour, not in the contract); left
out, the platform's own expiry applies (the embedded simulator's is ``TOOLDESK_ROUND_TTL``, 600 s).
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable

from pydantic import BaseModel, Field, ValidationInfo, field_validator
from sqlalchemy import Engine
from sqlmodel import col, select

from app.db import read_session, write_session
from app.errors import BadRequest, NotFound, PlatformError, SweepOver
from app.models import Agent, Run, Sweep, SweepRun
from app.platform.client import PlatformClient
from app.protocol import StartRun, StartRunWithExpiry
from app.services import agents
from app.services.runs import cancel_run
from app.services.sweep_answers import Cell, own_handlers
from app.states import TERMINAL_STATUSES, HandlerSet, RunStatusName, SweepCellKind

MAX_RUNS = 200
"""Runs one sweep may start (cells × runs_per_cell)."""
CANCELLED_BEFORE_START = "not_started: the sweep was cancelled before this run was started"
"""A run never started's error: its code is its outcome's, so the table's errors describe the same runs as its
counts (a run the platform cancelled is counted as ``cancelled``)."""


class SweepIn(BaseModel):
    """``POST /api/sweeps``: the agent, the tool to answer badly, the cells and runs per cell; ``string_inputs``
    (default: the agent's default inputs) and ``round_ttl`` (seconds each round stays open; default: the
    platform's own expiry)."""

    agent_id: str = Field(min_length=1, max_length=200)
    tool: str = Field(min_length=1, max_length=200)
    cells: list[Cell] = Field(min_length=1, max_length=len(SweepCellKind) * 3)
    runs_per_cell: int = Field(ge=1, le=MAX_RUNS)
    string_inputs: dict[str, str] | None = Field(default=None, max_length=50)
    round_ttl: float | None = Field(default=None, gt=0, le=86_400, allow_inf_nan=False)

    @field_validator("runs_per_cell")
    @classmethod
    def _bounded(cls, runs: int, info: ValidationInfo) -> int:
        cells = len(info.data.get("cells") or [])
        if cells * runs > MAX_RUNS:
            raise ValueError(
                f"{cells} cells × {runs} runs is {cells * runs} runs: a sweep starts at most {MAX_RUNS}; "
                "choose fewer cells or runs"
            )
        return runs


def create_sweep(*, engine: Engine, body: SweepIn, created_by: str) -> Sweep:
    """Check ``body`` against the stored agent list and store the sweep with its runs to start. Blocking.

    Raises ``BadRequest`` (422, ``"field: message"``): an agent the platform did not list, a tool the agent does
    not have, a ``normal`` cell without a value for a tool with no handler."""
    with write_session(engine) as session:
        agent = session.get(Agent, body.agent_id)
        if agent is None:
            raise BadRequest(f"agent_id: no agent {body.agent_id!r}: the Agents page lists the platform's agents")
        tools = [str(tool.get("name")) for tool in agent.tools]
        if body.tool not in tools:
            raise BadRequest(f"tool: {agent.name} has no tool {body.tool!r} (its tools: {', '.join(tools)})")
        handled = body.tool in own_handlers(session, body.agent_id)
        for index, cell in enumerate(body.cells):
            if cell.kind == SweepCellKind.NORMAL and cell.value is None and not handled:
                raise BadRequest(
                    f"cells.{index}.value: {body.tool} has no handler to give a normal answer: give a value"
                )
        inputs = body.string_inputs
        if inputs is None:
            inputs = {str(item["key"]): str(item.get("default", "")) for item in agent.inputs}
        sweep = Sweep(
            agent_id=body.agent_id,
            tool_name=body.tool,
            cells=[cell.model_dump(mode="json") for cell in body.cells],
            runs_per_cell=body.runs_per_cell,
            string_inputs=inputs,
            round_ttl=body.round_ttl,
            created_by=created_by,
            created_at=time.time(),
        )
        session.add(sweep)
        session.flush()
        assert sweep.id is not None
        for index in range(len(body.cells)):
            for _ in range(body.runs_per_cell):
                session.add(SweepRun(sweep_id=sweep.id, cell=index))
        session.flush()
        session.refresh(sweep)
        return sweep


async def start_sweep_runs(
    *, engine: Engine, client: PlatformClient, sweep_id: int, on_started: Callable[[int], None]
) -> None:
    """Start every run of the sweep not started yet, one after another, through the platform; after each is
    recorded and linked to its sweep, ``on_started(task_id)`` (``Runtime.run_started``: the responder then takes
    a round that came first). A refused start keeps the platform's words as the run's ``start_error``."""
    sweep = await asyncio.to_thread(_get, engine, sweep_id)
    body: StartRun = StartRun(string_inputs=sweep.string_inputs, environment="playground")
    if sweep.round_ttl is not None:
        body = StartRunWithExpiry(**body.model_dump(), round_ttl=sweep.round_ttl)
    while (row_id := await asyncio.to_thread(_next_to_start, engine, sweep_id)) is not None:
        try:
            started = await agents.start_run(
                engine=engine,
                client=client,
                agent_id=sweep.agent_id,
                body=body,
                started_by=f"sweep {sweep_id}",
                handler_set=HandlerSet.SWEEP,
            )
        except PlatformError as exc:
            await asyncio.to_thread(_set_start, engine, row_id, None, f"{exc.code}: {exc.message}")
            continue
        cancelled = await asyncio.to_thread(_set_start, engine, row_id, started.task_id, None)
        on_started(started.task_id)
        if cancelled:  # cancelled while this start was on its way: the run is not left to wait
            with contextlib.suppress(PlatformError):
                await cancel_run(engine=engine, client=client, agent_id=sweep.agent_id, task_id=started.task_id)


async def resume_sweeps(*, engine: Engine, client: PlatformClient, on_started: Callable[[int], None]) -> None:
    """At start-up: start the runs a stopped console left unstarted, sweep by sweep. A start the platform took
    just before the stop, and whose answer was never stored, is started again (the platform has two runs then)."""
    for sweep_id in await asyncio.to_thread(_unfinished_starts, engine):
        await start_sweep_runs(engine=engine, client=client, sweep_id=sweep_id, on_started=on_started)


async def cancel_sweep(*, engine: Engine, client: PlatformClient, sweep_id: int) -> int:
    """Stop the sweep: runs not started yet are not started (one whose start is on its way is cancelled once it
    is), and the platform is asked to cancel each run not over (the change arrives by webhook). Returns how many
    runs it asked to cancel. Raises ``NotFound``, and ``SweepOver`` (409) when every run has ended: a finished
    sweep is left as it finished."""
    open_runs = await asyncio.to_thread(_stop_starting, engine, sweep_id)
    asked = 0
    for agent_id, task_id in open_runs:
        try:
            await cancel_run(engine=engine, client=client, agent_id=agent_id, task_id=task_id)
            asked += 1
        except PlatformError:
            continue  # already over, or gone: the run's own status says which
    return asked


def agent_known(engine: Engine, agent_id: str) -> bool:
    """Whether the platform listed ``agent_id`` at the last sync."""
    with read_session(engine) as session:
        return session.get(Agent, agent_id) is not None


def _get(engine: Engine, sweep_id: int) -> Sweep:
    with read_session(engine) as session:
        sweep = session.get(Sweep, sweep_id)
        if sweep is None:
            raise NotFound(f"no sweep {sweep_id}: GET /api/sweeps lists them")
        return sweep


def _next_to_start(engine: Engine, sweep_id: int) -> int | None:
    with read_session(engine) as session:
        sweep = session.get(Sweep, sweep_id)
        if sweep is None or sweep.cancelled_at is not None:
            return None
        return session.exec(
            select(SweepRun.id)
            .where(SweepRun.sweep_id == sweep_id, col(SweepRun.task_id).is_(None), col(SweepRun.start_error).is_(None))
            .order_by(col(SweepRun.id))
        ).first()


def _set_start(engine: Engine, row_id: int, task_id: int | None, error: str | None) -> bool:
    """Store how the start of sweep run ``row_id`` went; True when its sweep was cancelled meanwhile."""
    with write_session(engine) as session:
        row = session.get(SweepRun, row_id)
        if row is None:
            return False
        row.task_id, row.start_error, row.started_at = task_id, error, time.time()
        session.add(row)
        sweep = session.get(Sweep, row.sweep_id)
        return sweep is not None and sweep.cancelled_at is not None


def _unfinished_starts(engine: Engine) -> list[int]:
    with read_session(engine) as session:
        query = select(SweepRun.sweep_id).where(col(SweepRun.task_id).is_(None), col(SweepRun.start_error).is_(None))
        return sorted(set(session.exec(query).all()))


def _stop_starting(engine: Engine, sweep_id: int) -> list[tuple[str, int]]:
    """Mark the sweep's unstarted runs as never to start; its runs not over, as ``(agent_id, task_id)``."""
    with write_session(engine) as session:
        sweep = session.get(Sweep, sweep_id)
        if sweep is None:
            raise NotFound(f"no sweep {sweep_id}: GET /api/sweeps lists them")
        rows = session.exec(select(SweepRun).where(SweepRun.sweep_id == sweep_id)).all()
        ended = {
            run.task_id
            for run in session.exec(select(Run).where(col(Run.task_id).in_([r.task_id for r in rows if r.task_id])))
            if run.status in TERMINAL_STATUSES or run.status == RunStatusName.LOST
        }
        if all(row.start_error is not None or row.task_id in ended for row in rows):
            raise SweepOver(f"sweep {sweep_id} is over: every run has ended, so there is nothing to cancel")
        sweep.cancelled_at = sweep.cancelled_at or time.time()
        session.add(sweep)
        for row in rows:
            if row.task_id is None and row.start_error is None:
                row.start_error = CANCELLED_BEFORE_START
                session.add(row)
        task_ids = [row.task_id for row in rows if row.task_id is not None]
        runs = session.exec(select(Run).where(col(Run.task_id).in_(task_ids))).all()
        return [(run.agent_id, run.task_id) for run in runs if run.status not in TERMINAL_STATUSES]
