"""A sweep's table of outcomes, read from its runs, and its exports (CSV, JSON). Blocking: call in a thread.

Per run: its outcome (the run's terminal status, ``lost``, ``not_started`` when the platform refused the start,
else ``running``), the error (the run's ``code: message``, or the refusal of its start), the rounds it opened and
its duration (seconds from the start to its end). Per cell: the counts of each outcome, each error with how many
runs ended with it, the mean rounds and duration of the runs that are over. A sweep is ``finished`` when every
run is over.
"""

from __future__ import annotations

import csv
import io
import json
from collections import Counter
from typing import Any

from pydantic import BaseModel
from sqlalchemy import Engine, func
from sqlmodel import Session, col, select

from app.db import read_session
from app.errors import NotFound
from app.models import Agent, Round, Run, Sweep, SweepRun
from app.services.sweep_answers import Cell
from app.states import TERMINAL_STATUSES, RunStatusName, SweepOutcome

RESULT_PREVIEW = 200
"""Characters of a completed run's result shown per run."""


class SweepRunRow(BaseModel):
    """One run of a sweep; ``duration_s`` is null until it is over, ``task_id`` when it never started."""

    cell: int
    task_id: int | None
    outcome: SweepOutcome
    status: str | None
    error: str | None
    rounds: int
    duration_s: float | None
    result_preview: str | None


class CellRow(BaseModel):
    """One cell's line of the table: ``counts`` by outcome (every outcome, zeros too), ``errors`` the runs over by
    error code (``expired``, the platform's or the scenario's code), most first, and ``error_messages`` one message
    per code (messages differ per run: an expiry names its time)."""

    cell: int
    label: str
    kind: str
    runs: int
    counts: dict[str, int]
    errors: dict[str, int]
    error_messages: dict[str, str]
    mean_rounds: float | None
    mean_duration_s: float | None


class SweepSummary(BaseModel):
    """A sweep in the list: ``runs_over`` of ``runs`` have ended; ``finished`` when all have."""

    id: int
    agent_id: str
    agent_name: str | None
    tool: str
    cells: int
    runs_per_cell: int
    runs: int
    runs_over: int
    finished: bool
    round_ttl: float | None
    created_by: str
    created_at: float
    cancelled_at: float | None


class SweepDetail(SweepSummary):
    """A sweep with its table (``table``, a line per cell, in the order given) and every run (``run_rows``)."""

    cell_specs: list[dict[str, Any]]
    table: list[CellRow]
    run_rows: list[SweepRunRow]


def list_sweeps(*, engine: Engine, limit: int = 100) -> list[SweepSummary]:
    """The newest sweeps first, at most ``limit``."""
    with read_session(engine) as session:
        sweeps = session.exec(select(Sweep).order_by(col(Sweep.id).desc()).limit(limit)).all()
        return [_detail(session, sweep) for sweep in sweeps]


def get_sweep(*, engine: Engine, sweep_id: int) -> SweepDetail:
    """One sweep with its table and runs; raises ``NotFound``."""
    with read_session(engine) as session:
        sweep = session.get(Sweep, sweep_id)
        if sweep is None:
            raise NotFound(f"no sweep {sweep_id}: GET /api/sweeps lists them")
        return _detail(session, sweep)


CSV_COLUMNS = ["cell", "label", "kind", "runs", *[str(o) for o in SweepOutcome], "errors", "mean_rounds"]
CSV_COLUMNS.append("mean_duration_s")


def table_csv(detail: SweepDetail) -> str:
    """The table as CSV, a line per cell: the outcome counts, ``errors`` as ``code ×n (a message)`` joined by
    ``; ``. A text cell starting with ``=``, ``+``, ``-``, ``@``, a tab or a carriage return gets a ``'`` first."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    for row in detail.table:
        errors = "; ".join(f"{code} ×{n} ({row.error_messages[code]})" for code, n in row.errors.items())
        counts = [row.counts[str(outcome)] for outcome in SweepOutcome]
        cells = [row.cell, row.label, row.kind, row.runs, *counts, errors, row.mean_rounds, row.mean_duration_s]
        writer.writerow([_inert(cell) for cell in cells])
    return out.getvalue()


FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
"""A text cell starting with one of these is a formula to a spreadsheet (OWASP's CSV injection list)."""


def _inert(cell: object) -> object:
    """A text cell a spreadsheet would run as a formula (a label ``=HYPERLINK(...)``) with ``'`` before it, as
    OWASP advises; numbers as they are."""
    return f"'{cell}" if isinstance(cell, str) and cell.startswith(FORMULA_STARTS) else cell


def table_json(detail: SweepDetail) -> str:
    """The whole sweep as JSON: what ``GET /api/sweeps/{id}`` answers, indented."""
    return json.dumps(detail.model_dump(mode="json"), indent=2, ensure_ascii=False)


def _detail(session: Session, sweep: Sweep) -> SweepDetail:
    assert sweep.id is not None
    rows = session.exec(select(SweepRun).where(SweepRun.sweep_id == sweep.id).order_by(col(SweepRun.id))).all()
    task_ids = [row.task_id for row in rows if row.task_id is not None]
    runs = {run.task_id: run for run in session.exec(select(Run).where(col(Run.task_id).in_(task_ids))).all()}
    rounds = dict(
        session.exec(
            select(Round.task_id, func.count()).where(col(Round.task_id).in_(task_ids)).group_by(col(Round.task_id))
        ).all()
    )
    run_rows = [_run_row(row, runs.get(row.task_id) if row.task_id else None, rounds) for row in rows]
    cells = [Cell.model_validate(spec) for spec in sweep.cells]
    table = [_cell_row(index, cell, [r for r in run_rows if r.cell == index]) for index, cell in enumerate(cells)]
    over = sum(1 for r in run_rows if r.outcome != SweepOutcome.RUNNING)
    agent = session.get(Agent, sweep.agent_id)
    return SweepDetail(
        id=sweep.id,
        agent_id=sweep.agent_id,
        agent_name=agent.name if agent else None,
        tool=sweep.tool_name,
        cells=len(cells),
        runs_per_cell=sweep.runs_per_cell,
        runs=len(run_rows),
        runs_over=over,
        finished=over == len(run_rows),
        round_ttl=sweep.round_ttl,
        created_by=sweep.created_by,
        created_at=sweep.created_at,
        cancelled_at=sweep.cancelled_at,
        cell_specs=sweep.cells,
        table=table,
        run_rows=run_rows,
    )


def _run_row(row: SweepRun, run: Run | None, rounds: dict[int, int]) -> SweepRunRow:
    if run is None:
        outcome = SweepOutcome.NOT_STARTED if row.start_error else SweepOutcome.RUNNING
        error = row.start_error
        if error is not None and error.startswith(_OLD_CANCELLED_BEFORE_START):  # stored before it said not_started
            error = "not_started" + error.removeprefix("cancelled")
        return SweepRunRow(
            cell=row.cell, task_id=row.task_id, outcome=outcome, status=None, error=error, rounds=0,
            duration_s=None, result_preview=None,
        )  # fmt: skip
    over = run.status in TERMINAL_STATUSES or run.status == RunStatusName.LOST
    outcome = SweepOutcome(run.status) if over else SweepOutcome.RUNNING
    error = None
    if run.error:
        error = f"{run.error.get('code', 'error')}: {run.error.get('message', '')}".strip()
    result = run.result if isinstance(run.result, str) or run.result is None else json.dumps(run.result)
    duration = round(run.ended_at - run.created_at, 3) if over and run.ended_at is not None else None
    return SweepRunRow(
        cell=row.cell, task_id=run.task_id, outcome=outcome, status=run.status, error=error,
        rounds=rounds.get(run.task_id, 0), duration_s=duration,
        result_preview=None if result is None else result[:RESULT_PREVIEW],
    )  # fmt: skip


_OLD_CANCELLED_BEFORE_START = "cancelled: the sweep was cancelled before"


def _cell_row(index: int, cell: Cell, runs: list[SweepRunRow]) -> CellRow:
    counts = Counter(str(r.outcome) for r in runs)
    over = [r for r in runs if r.outcome != SweepOutcome.RUNNING]
    durations = [r.duration_s for r in over if r.duration_s is not None]
    return CellRow(
        cell=index,
        label=cell.title,
        kind=str(cell.kind),
        runs=len(runs),
        counts={str(outcome): counts.get(str(outcome), 0) for outcome in SweepOutcome},
        errors=dict(Counter(_code(r.error) for r in over if r.error).most_common()),
        error_messages={_code(r.error): r.error.partition(": ")[2] for r in reversed(over) if r.error},
        mean_rounds=round(sum(r.rounds for r in over) / len(over), 2) if over else None,
        mean_duration_s=round(sum(durations) / len(durations), 3) if durations else None,
    )


def _code(error: str) -> str:
    return error.partition(": ")[0]
