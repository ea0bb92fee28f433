"""``/api`` routes for handlers, the demo, and moving configuration in and out."""

from __future__ import annotations

import asyncio
from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import PlainTextResponse, Response
from pydantic import BaseModel, Field

from app.api.common import Id, NoSettings, json_body, require_json
from app.auth.access import need
from app.json_values import JsonObject
from app.models import HandlerPublic
from app.protocol import INT64_MAX, RunStarted
from app.runtime import get_runtime
from app.services import config_io, demo, handler_store
from app.services import export_python as export_python_module
from app.services.handler_test import HandlerTestOutcome, run_handler_test
from app.states import HandlerKind, HandlerMode, Role

router = APIRouter(prefix="/api", tags=["api"], dependencies=[Depends(require_json)])
"""Handlers (CRUD, modes, versions, test), the demo, config export/import and Export as Python."""


class ModeIn(BaseModel):
    mode: HandlerMode


class HandlerTestIn(BaseModel):
    """A handler to try on sample arguments without saving it."""

    tool_name: str = Field(default="tool", min_length=1, max_length=200)
    kind: HandlerKind
    spec: dict[str, Any] = Field(default_factory=dict)
    behaviour: dict[str, Any] = Field(default_factory=dict)
    args: JsonObject = Field(default_factory=dict)
    agent_id: str = Field(default="test-agent", min_length=1, max_length=200)
    task_id: int = Field(default=1, ge=1, le=INT64_MAX)
    call_count: int = Field(default=1, ge=1, le=1_000_000, description="rules with sequences: test as this call")
    state: JsonObject = Field(default_factory=dict, description="rules with state: the run's state to test in")


@router.post(
    "/demo",
    dependencies=[Depends(need(Role.ADMIN))],
    response_model=list[RunStarted],
    status_code=202,
    summary="Start every demo agent once, answered by the demo's own handlers (saved handlers stay as they are)",
)
async def run_demo(_body: NoSettings | None = None) -> list[RunStarted]:
    runtime = get_runtime()
    started = await demo.run_demo(engine=runtime.engine, client=runtime.client)
    for run in started:
        runtime.run_started(run.task_id)
    return started


@router.get(
    "/config",
    dependencies=[Depends(need(Role.ADMIN))],
    response_model=config_io.ConfigDocument,
    summary="Every agent and handler as one JSON document (the import format)",
)
async def export_config() -> config_io.ConfigDocument:
    engine = get_runtime().engine
    return await asyncio.to_thread(lambda: config_io.export_config(engine=engine))


@router.post(
    "/config",
    dependencies=[Depends(need(Role.ADMIN))],
    response_model=config_io.ImportReport,
    summary="Import a document from GET /api/config: all of it, or nothing",
    openapi_extra=json_body(config_io.ConfigDocument, "a document as GET /api/config gives it"),
)
async def import_config(request: Request) -> config_io.ImportReport:
    """The raw bytes go to ``config_io.import_config``, which checks size, JSON, format and version and names
    every problem before anything is written (422 ``bad_body`` or ``handler_invalid``)."""
    raw = await request.body()
    runtime = get_runtime()
    report = await asyncio.to_thread(lambda: config_io.import_config(engine=runtime.engine, document=raw))
    runtime.handlers_changed()
    return report


@router.get(
    "/agents/{agent_id}/handlers.py",
    dependencies=[Depends(need(Role.ADMIN))],
    response_class=PlainTextResponse,
    summary="The agent's handlers as a Python module with a `tools` dict for the platform SDK",
)
async def export_python(agent_id: str) -> PlainTextResponse:
    engine = get_runtime().engine
    source, name = await asyncio.to_thread(
        lambda: (
            export_python_module.export_python(engine=engine, agent_id=agent_id),
            export_python_module.python_module_name(engine=engine, agent_id=agent_id),
        )
    )
    return PlainTextResponse(
        source, media_type="text/x-python", headers={"content-disposition": f'attachment; filename="{name}.py"'}
    )


@router.get(
    "/handlers",
    dependencies=[Depends(need(Role.VIEWER))],
    response_model=list[HandlerPublic],
    summary="Handlers, by agent and tool",
)
async def list_handlers(agent_id: str | None = None) -> list[HandlerPublic]:
    engine = get_runtime().engine
    return await asyncio.to_thread(lambda: handler_store.list_handlers(engine=engine, agent_id=agent_id))


@router.post(
    "/handlers",
    dependencies=[Depends(need(Role.ADMIN))],
    response_model=HandlerPublic,
    summary="Create or replace the handler of a tool",
)
async def save_handler(body: handler_store.HandlerIn) -> HandlerPublic:
    runtime = get_runtime()
    saved = await asyncio.to_thread(lambda: handler_store.save_handler(engine=runtime.engine, handler=body))
    runtime.handlers_changed()
    return saved


@router.post(
    "/rounds/{round_id}/calls/{tool_call_id}/rule",
    dependencies=[Depends(need(Role.ADMIN))],
    response_model=HandlerPublic,
    summary="Save the answer a call received as a rule of its tool's rules handler",
)
async def save_as_rule(round_id: Id, tool_call_id: str, _body: NoSettings | None = None) -> HandlerPublic:
    runtime = get_runtime()
    saved = await asyncio.to_thread(
        lambda: handler_store.save_result_as_rule(engine=runtime.engine, round_id=round_id, tool_call_id=tool_call_id)
    )
    runtime.handlers_changed()
    return saved


@router.get(
    "/handlers/{handler_id}",
    dependencies=[Depends(need(Role.VIEWER))],
    response_model=HandlerPublic,
    summary="One handler",
)
async def get_handler(handler_id: Id) -> HandlerPublic:
    engine = get_runtime().engine
    return await asyncio.to_thread(lambda: handler_store.get_handler(engine=engine, handler_id=handler_id))


@router.put(
    "/handlers/{handler_id}/mode",
    dependencies=[Depends(need(Role.ADMIN))],
    response_model=HandlerPublic,
    summary="manual, suggest or auto",
)
async def set_mode(handler_id: Id, body: ModeIn) -> HandlerPublic:
    runtime = get_runtime()
    saved = await asyncio.to_thread(
        lambda: handler_store.set_mode(engine=runtime.engine, handler_id=handler_id, mode=body.mode)
    )
    runtime.handlers_changed()
    return saved


@router.delete(
    "/handlers/{handler_id}",
    dependencies=[Depends(need(Role.ADMIN))],
    status_code=204,
    summary="Remove a handler and its history",
)
async def delete_handler(handler_id: Id) -> Response:
    runtime = get_runtime()
    await asyncio.to_thread(lambda: handler_store.delete_handler(engine=runtime.engine, handler_id=handler_id))
    runtime.handlers_changed()
    return Response(status_code=204)


@router.get(
    "/handlers/{handler_id}/versions",
    dependencies=[Depends(need(Role.VIEWER))],
    response_model=list[handler_store.VersionPublic],
    summary="Saved versions, newest first",
)
async def list_versions(handler_id: Id) -> list[handler_store.VersionPublic]:
    engine = get_runtime().engine
    await asyncio.to_thread(lambda: handler_store.get_handler(engine=engine, handler_id=handler_id))
    return await asyncio.to_thread(lambda: handler_store.list_versions(engine=engine, handler_id=handler_id))


@router.post(
    "/handlers/{handler_id}/versions/{version}/restore",
    dependencies=[Depends(need(Role.ADMIN))],
    response_model=HandlerPublic,
    summary="Save an old version again as the newest",
)
async def restore_version(handler_id: Id, version: Id, _body: NoSettings | None = None) -> HandlerPublic:
    runtime = get_runtime()
    restored = await asyncio.to_thread(
        lambda: handler_store.restore_version(engine=runtime.engine, handler_id=handler_id, version=version)
    )
    runtime.handlers_changed()
    return restored


@router.post(
    "/handlers/test",
    dependencies=[Depends(need(Role.ADMIN))],
    response_model=HandlerTestOutcome,
    summary="Run a handler on sample arguments",
)
async def test_handler(body: HandlerTestIn) -> HandlerTestOutcome:
    """Nothing is saved or sent: 422 ``handler_invalid`` names a problem in the settings; a failing handler is an
    ``is_error`` outcome; 503 ``sandbox_unavailable`` when a Python handler finds no worker."""
    runtime = get_runtime()
    handler = handler_store.HandlerIn(
        agent_id=body.agent_id, tool_name=body.tool_name, kind=body.kind, spec=body.spec, behaviour=body.behaviour
    )
    return await run_handler_test(
        handler=handler,
        args=body.args,
        task_id=body.task_id,
        sandbox=runtime.sandbox,
        call_count=body.call_count,
        state=body.state,
    )
