"""Runs in bulk: cancel several runs, or run them again, in one request, with what became of each.

Each run goes through the same service as its own page's button: ``runs.cancel_run`` (*Cancel run*) and
``agents.start_run`` with the run's agent, inputs and environment (*Run again*). At most ``MAX_BULK`` runs per
request, ``PARALLEL`` of them with the platform at a time; one run's refusal never stops the others.
"""

from __future__ import annotations

import asyncio
from typing import NamedTuple

from pydantic import BaseModel, Field, StrictInt, field_validator
from sqlalchemy import Engine, select

from app.db import read_session
from app.errors import PlatformError, TooldeskError
from app.models import Run
from app.platform.client import PlatformClient
from app.protocol import INT64_MAX, StartRun, is_terminal
from app.services import agents, runs
from app.states import BulkAction, BulkOutcome, RunStatusName

MAX_BULK = 100
"""Runs one bulk request may name."""
PARALLEL = 8
"""Runs whose platform call may be under way at once."""


class BulkRequest(BaseModel):
    """``POST /api/runs/bulk``: ``action`` (``cancel`` or ``run_again``) for every run in ``task_ids`` (1 to
    ``MAX_BULK`` distinct ones; a task_id named twice is done once). A task_id is a JSON integer: ``true`` or
    ``"7"`` is refused, not read as ``1`` or ``7``."""

    action: BulkAction
    task_ids: list[StrictInt] = Field(min_length=1)

    @field_validator("task_ids")
    @classmethod
    def _task_ids(cls, value: list[int]) -> list[int]:
        wrong = [task_id for task_id in value if not 1 <= task_id <= INT64_MAX]
        if wrong:
            raise ValueError(f"{wrong[0]} is not a task_id (1 to {INT64_MAX})")
        distinct = list(dict.fromkeys(value))
        if len(distinct) > MAX_BULK:
            raise ValueError(f"{len(distinct)} runs named, at most {MAX_BULK} per request: send the rest in another")
        return distinct


class BulkResult(BaseModel):
    """What became of one run: ``outcome`` and a sentence; ``started_task_id``: the new run of ``run_again``."""

    task_id: int
    outcome: BulkOutcome
    message: str
    started_task_id: int | None = None


class BulkDone(BaseModel):
    """One result per run named, in the order named."""

    action: BulkAction
    results: list[BulkResult]

    def started(self) -> list[int]:
        """The new runs (``run_again``)."""
        return [r.started_task_id for r in self.results if r.started_task_id is not None]

    def checked(self) -> list[int]:
        """The runs whose cancel the platform refused: the console asked it about each (``runs.cancel_run``)."""
        refused = self.action == BulkAction.CANCEL
        return [r.task_id for r in self.results if refused and r.outcome == BulkOutcome.REFUSED]


async def bulk_runs(*, engine: Engine, client: PlatformClient, request: BulkRequest, started_by: str) -> BulkDone:
    """Do ``request.action`` to each of its runs and say what became of each. ``started_by``: who asked (a new
    run records "<started_by>, again from run N"). Never raises for one run: its error is its result."""
    found = await asyncio.to_thread(_runs, engine, request.task_ids)
    gate = asyncio.Semaphore(PARALLEL)

    async def one(task_id: int) -> BulkResult:
        run = found.get(task_id)
        if run is None:
            return BulkResult(task_id=task_id, outcome=BulkOutcome.NOT_FOUND, message=f"no run with task_id {task_id}")
        async with gate:
            try:
                if request.action == BulkAction.CANCEL:
                    return await _cancel(engine, client, run)
                return await _run_again(engine, client, run, started_by)
            except TooldeskError as exc:
                said = f"platform answered {exc.status} {exc.code}: " if isinstance(exc, PlatformError) else ""
                return BulkResult(task_id=task_id, outcome=BulkOutcome.REFUSED, message=said + exc.message)

    return BulkDone(action=request.action, results=list(await asyncio.gather(*map(one, request.task_ids))))


class _Known(NamedTuple):
    task_id: int
    agent_id: str
    status: str
    string_inputs: dict[str, str] | None
    environment: str | None


def _runs(engine: Engine, task_ids: list[int]) -> dict[int, _Known]:
    table = Run.__table__  # type: ignore[attr-defined]
    columns = [table.c[name] for name in _Known._fields]
    with read_session(engine) as session:
        rows = session.connection().execute(select(*columns).where(table.c.task_id.in_(task_ids))).all()
        return {row[0]: _Known(*row) for row in rows}


async def _cancel(engine: Engine, client: PlatformClient, run: _Known) -> BulkResult:
    if is_terminal(run.status) or run.status == RunStatusName.LOST:
        return BulkResult(
            task_id=run.task_id, outcome=BulkOutcome.SKIPPED, message=f"already {run.status}: nothing to cancel"
        )
    await runs.cancel_run(engine=engine, client=client, agent_id=run.agent_id, task_id=run.task_id)
    return BulkResult(
        task_id=run.task_id, outcome=BulkOutcome.SENT, message="cancel sent: the platform's webhook will confirm it"
    )


async def _run_again(engine: Engine, client: PlatformClient, run: _Known, started_by: str) -> BulkResult:
    body = StartRun(string_inputs=run.string_inputs or {}, environment=run.environment or "playground")
    started = await agents.start_run(
        engine=engine,
        client=client,
        agent_id=run.agent_id,
        body=body,
        started_by=f"{started_by}, again from run {run.task_id}",
    )
    return BulkResult(
        task_id=run.task_id,
        outcome=BulkOutcome.STARTED,
        message=f"started as run {started.task_id}",
        started_task_id=started.task_id,
    )
