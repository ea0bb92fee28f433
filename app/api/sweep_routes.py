"""``/api/sweeps``: robustness sweeps (``app.services.sweeps``) and their tables, as JSON or CSV."""

from __future__ import annotations

import asyncio
import contextlib
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import Response
from pydantic import BaseModel

from app.api.common import Id, NoSettings, require_json
from app.auth.access import identify, need
from app.errors import TooldeskError
from app.runtime import get_runtime
from app.services import agents, sweep_table, sweeps
from app.states import Role

router = APIRouter(prefix="/api", tags=["sweeps"], dependencies=[Depends(require_json)])
"""Sweeps: start, list, read, export, cancel; ``app.api`` mounts it."""

Format = Annotated[Literal["json", "csv"], Query(description="json (default) or csv: the table a line per cell")]


class CancelledOut(BaseModel):
    """``cancelled``: the runs the platform was asked to cancel."""

    cancelled: int


@router.post(
    "/sweeps",
    dependencies=[Depends(need(Role.ANSWERER))],
    response_model=sweep_table.SweepDetail,
    status_code=202,
    summary="Start a robustness sweep",
)
async def start_sweep(body: sweeps.SweepIn, request: Request) -> sweep_table.SweepDetail:
    """Stores the sweep and starts its runs in the background (cells × runs_per_cell, at most 200); the answer
    is the sweep as it starts. 422 ``"field: message"`` for a bad body, an unknown agent or tool."""
    runtime = get_runtime()
    if not await asyncio.to_thread(sweeps.agent_known, runtime.engine, body.agent_id):
        with contextlib.suppress(TooldeskError):  # listed since the last sync? Otherwise the 422 says so
            await agents.sync_agents(engine=runtime.engine, client=runtime.client)
    identity = identify(request)
    who = identity.name if identity is not None else "api"
    sweep = await asyncio.to_thread(lambda: sweeps.create_sweep(engine=runtime.engine, body=body, created_by=who))
    assert sweep.id is not None
    runtime.sweep_created(sweep.id)
    sweep_id = sweep.id
    return await asyncio.to_thread(lambda: sweep_table.get_sweep(engine=runtime.engine, sweep_id=sweep_id))


@router.get(
    "/sweeps",
    dependencies=[Depends(need(Role.VIEWER))],
    response_model=list[sweep_table.SweepSummary],
    summary="List sweeps, newest first",
)
async def list_sweeps() -> list[sweep_table.SweepSummary]:
    engine = get_runtime().engine
    return await asyncio.to_thread(lambda: sweep_table.list_sweeps(engine=engine))


@router.get(
    "/sweeps/{sweep_id}.csv",
    dependencies=[Depends(need(Role.VIEWER))],
    response_class=Response,
    summary="A sweep's table as CSV, a line per cell",
)
async def sweep_csv(sweep_id: Id) -> Response:
    return await _export(sweep_id, "csv")


@router.get(
    "/sweeps/{sweep_id}.json",
    dependencies=[Depends(need(Role.VIEWER))],
    response_class=Response,
    summary="A sweep with its table and runs, as a JSON file",
)
async def sweep_json(sweep_id: Id) -> Response:
    return await _export(sweep_id, "json")


@router.get(
    "/sweeps/{sweep_id}",
    dependencies=[Depends(need(Role.VIEWER))],
    response_model=sweep_table.SweepDetail,
    summary="A sweep: its table of outcomes per cell and every run",
)
async def get_sweep(sweep_id: Id, format: Format = "json") -> Response | sweep_table.SweepDetail:
    """``?format=csv`` answers the table as CSV, as ``/api/sweeps/{id}.csv`` does. 404 for an unknown sweep."""
    if format == "csv":
        return await _export(sweep_id, "csv")
    engine = get_runtime().engine
    return await asyncio.to_thread(lambda: sweep_table.get_sweep(engine=engine, sweep_id=sweep_id))


@router.post(
    "/sweeps/{sweep_id}/cancel",
    dependencies=[Depends(need(Role.ANSWERER))],
    response_model=CancelledOut,
    summary="Stop a sweep: start no more runs and cancel those not over",
)
async def cancel_sweep(sweep_id: Id, _body: NoSettings | None = None) -> CancelledOut:
    runtime = get_runtime()
    asked = await sweeps.cancel_sweep(engine=runtime.engine, client=runtime.client, sweep_id=sweep_id)
    return CancelledOut(cancelled=asked)


async def _export(sweep_id: int, kind: str) -> Response:
    engine = get_runtime().engine
    detail = await asyncio.to_thread(lambda: sweep_table.get_sweep(engine=engine, sweep_id=sweep_id))
    name = f"sweep-{sweep_id}.{kind}"
    headers = {"content-disposition": f'attachment; filename="{name}"'}
    if kind == "csv":
        return Response(sweep_table.table_csv(detail), media_type="text/csv; charset=utf-8", headers=headers)
    return Response(sweep_table.table_json(detail), media_type="application/json", headers=headers)
