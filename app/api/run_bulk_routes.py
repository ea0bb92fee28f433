"""``/api`` routes for runs in bulk (cancel or run again several at once) and a run's duration view."""

from __future__ import annotations

import asyncio
import time

from fastapi import APIRouter, Depends, Request

from app.api.common import Id, require_json
from app.auth.access import identify, need
from app.runtime import get_runtime
from app.services import run_bulk, run_durations, runs
from app.states import Role

router = APIRouter(prefix="/api", tags=["api"], dependencies=[Depends(require_json)])
"""Bulk actions on runs and a run's durations; ``app.api`` mounts it."""


@router.post(
    "/runs/bulk",
    dependencies=[Depends(need(Role.ANSWERER))],
    response_model=run_bulk.BulkDone,
    summary="Cancel several runs, or run them again, at once; what became of each",
)
async def bulk_runs(body: run_bulk.BulkRequest, request: Request) -> run_bulk.BulkDone:
    """``{"action": "cancel" | "run_again", "task_ids": [...]}``, 1 to 100 task_ids (422 past that). Answers 200
    with one result per run, in order: ``sent``, ``started`` (with ``started_task_id``), ``skipped`` (already
    over), ``refused`` (the platform's words) or ``not_found``; one run's refusal never stops the others."""
    runtime = get_runtime()
    caller = identify(request)
    done = await run_bulk.bulk_runs(
        engine=runtime.engine,
        client=runtime.client,
        request=body,
        started_by=f"api ({caller.name if caller else 'api'}, bulk)",
    )
    runtime.runs_bulk_done(started=done.started(), checked=done.checked())
    return done


@router.get(
    "/runs/{task_id}/durations",
    dependencies=[Depends(need(Role.VIEWER))],
    response_model=run_durations.Durations,
    summary="Where a run's time went: per round, waiting on the platform, open, answered until the next delivery",
)
async def get_run_durations(task_id: Id) -> run_durations.Durations:
    """Bars in seconds from the run's first event (``app.services.run_durations``); 404 for an unknown run."""
    engine = get_runtime().engine
    detail = await asyncio.to_thread(lambda: runs.get_run(engine=engine, task_id=task_id))
    return run_durations.run_durations(detail, now=time.time())
