"""``/api`` routes for cassettes: record a run, import and download files, export as pytest, play back."""

from __future__ import annotations

import asyncio

from fastapi import APIRouter, Depends, Request
from fastapi.responses import PlainTextResponse, Response
from pydantic import BaseModel, Field

from app.api.common import Id, json_body, require_json
from app.auth.access import need
from app.protocol import INT64_MAX, RunStarted, StartRun
from app.runtime import get_runtime
from app.services import cassette_pytest, cassettes, playback
from app.states import CassetteMatching, Role

router = APIRouter(prefix="/api", tags=["api"], dependencies=[Depends(require_json)])
"""Cassettes and agents' playback; ``app.api`` mounts it."""


class RecordIn(BaseModel):
    """``POST /api/cassettes``: record run ``task_id``'s answered rounds as a new cassette."""

    task_id: int = Field(ge=1, le=INT64_MAX)


class PlaybackIn(BaseModel):
    """``PUT /api/agents/{agent_id}/playback``: the cassette that answers the agent's new runs (``null``: none)."""

    cassette_id: int | None = Field(default=None, ge=1, le=INT64_MAX)
    matching: CassetteMatching = CassetteMatching.STRICT


class PlaybackOut(BaseModel):
    """The agent's playback source, or ``null``."""

    cassette: cassettes.CassettePublic | None


class CassetteRunIn(StartRun):
    """``POST /api/cassettes/{id}/runs``: start the cassette's agent (inputs as for any run), answered by it."""

    matching: CassetteMatching = CassetteMatching.STRICT


@router.get(
    "/cassettes",
    dependencies=[Depends(need(Role.VIEWER))],
    response_model=list[cassettes.CassettePublic],
    summary="Cassettes, newest first",
)
async def list_cassettes(agent_id: str | None = None) -> list[cassettes.CassettePublic]:
    engine = get_runtime().engine
    return await asyncio.to_thread(lambda: cassettes.list_cassettes(engine=engine, agent_id=agent_id))


@router.post(
    "/cassettes",
    dependencies=[Depends(need(Role.ADMIN))],
    response_model=cassettes.CassettePublic,
    status_code=201,
    summary="Record a run: every tool call of its answered rounds and the result it got",
)
async def record_cassette(body: RecordIn) -> cassettes.CassettePublic:
    """404 for an unknown run, 422 for a run with no answered round."""
    engine = get_runtime().engine
    return await asyncio.to_thread(lambda: cassettes.record_run(engine=engine, task_id=body.task_id))


@router.post(
    "/cassettes/import",
    dependencies=[Depends(need(Role.ADMIN))],
    response_model=cassettes.CassettePublic,
    status_code=201,
    summary="Import a cassette file (as GET /api/cassettes/{id}.json gives it)",
    openapi_extra=json_body(cassettes.CassetteDocument, "a cassette file"),
)
async def import_cassette(request: Request) -> cassettes.CassettePublic:
    """The raw bytes are checked (size, JSON, format, version, shape); 422 ``bad_body`` names the problem."""
    raw = await request.body()
    engine = get_runtime().engine
    return await asyncio.to_thread(lambda: cassettes.import_cassette(engine=engine, document=raw))


@router.get(
    "/cassettes/{cassette_id}.json",
    dependencies=[Depends(need(Role.VIEWER))],
    response_class=PlainTextResponse,
    summary="Download a cassette as <name>.json",
)
async def download_cassette(cassette_id: Id) -> Response:
    engine = get_runtime().engine
    document = await asyncio.to_thread(lambda: cassettes.cassette_document(engine=engine, cassette_id=cassette_id))
    return Response(
        document.model_dump_json(indent=2),
        media_type="application/json",
        headers={"content-disposition": f'attachment; filename="{document.name}.json"'},
    )


@router.get(
    "/cassettes/{cassette_id}",
    dependencies=[Depends(need(Role.VIEWER))],
    response_model=cassettes.CassetteDocument,
    summary="One cassette, as its file",
)
async def get_cassette(cassette_id: Id) -> cassettes.CassetteDocument:
    engine = get_runtime().engine
    return await asyncio.to_thread(lambda: cassettes.cassette_document(engine=engine, cassette_id=cassette_id))


@router.get(
    "/cassettes/{cassette_id}/pytest.py",
    dependencies=[Depends(need(Role.VIEWER))],
    response_class=PlainTextResponse,
    summary="A cassette as a pytest fixture module (needs pytest only)",
)
async def export_pytest(cassette_id: Id) -> PlainTextResponse:
    engine = get_runtime().engine
    document = await asyncio.to_thread(lambda: cassettes.cassette_document(engine=engine, cassette_id=cassette_id))
    name = cassette_pytest.module_name(document.name)
    return PlainTextResponse(
        cassette_pytest.export_pytest(document),
        media_type="text/x-python",
        headers={"content-disposition": f'attachment; filename="{name}.py"'},
    )


@router.delete(
    "/cassettes/{cassette_id}",
    dependencies=[Depends(need(Role.ADMIN))],
    status_code=204,
    summary="Remove a cassette (runs it answers go on without it)",
)
async def delete_cassette(cassette_id: Id) -> Response:
    runtime = get_runtime()
    await asyncio.to_thread(lambda: cassettes.delete_cassette(engine=runtime.engine, cassette_id=cassette_id))
    runtime.handlers_changed()
    return Response(status_code=204)


@router.post(
    "/cassettes/{cassette_id}/runs",
    dependencies=[Depends(need(Role.ANSWERER))],
    response_model=RunStarted,
    status_code=202,
    summary="Start a run of the cassette's agent, its tool calls answered by the cassette",
)
async def start_with_cassette(cassette_id: Id, body: CassetteRunIn) -> RunStarted:
    runtime = get_runtime()
    started = await playback.start_with_cassette(
        engine=runtime.engine,
        client=runtime.client,
        cassette_id=cassette_id,
        body=StartRun(string_inputs=body.string_inputs, environment=body.environment),
        matching=body.matching,
    )
    runtime.run_started(started.task_id)
    return started


@router.get(
    "/agents/{agent_id}/playback",
    dependencies=[Depends(need(Role.VIEWER))],
    response_model=PlaybackOut,
    summary="The cassette that answers the agent's new runs",
)
async def get_playback(agent_id: str) -> PlaybackOut:
    engine = get_runtime().engine
    return PlaybackOut(
        cassette=await asyncio.to_thread(lambda: cassettes.playback_of(engine=engine, agent_id=agent_id))
    )


@router.put(
    "/agents/{agent_id}/playback",
    dependencies=[Depends(need(Role.ADMIN))],
    response_model=PlaybackOut,
    summary="Play a cassette back on the agent's new runs (strict or loose), or stop (cassette_id null)",
)
async def set_playback(agent_id: str, body: PlaybackIn) -> PlaybackOut:
    runtime = get_runtime()
    chosen = await asyncio.to_thread(
        lambda: cassettes.set_playback(
            engine=runtime.engine, agent_id=agent_id, cassette_id=body.cassette_id, matching=body.matching
        )
    )
    runtime.handlers_changed()
    return PlaybackOut(cassette=chosen)
