"""``/api`` routes for handlers, the demo, and moving configuration in and out."""

from __future__ import annotations

import asyncio
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import PlainTextResponse, Response
from nicegui import background_tasks
from pydantic import BaseModel, Field

from app.api.common import Id, parse_body
from app.handlers.run import CallInput, answer_call
from app.models import HandlerPublic
from app.protocol import INT64_MAX, RunStarted
from app.runtime import get_runtime
from app.services import config_io, demo, handler_store
from app.services import export_python as export_python_module
from app.services.bus import changes
from app.states import HandlerKind, HandlerMode


class ModeIn(BaseModel):
    mode: HandlerMode


class HandlerTestIn(BaseModel):
    """A handler to try on sample arguments without saving it."""

    tool_name: str = Field(default="tool", min_length=1)
    kind: HandlerKind
    spec: dict[str, Any] = Field(default_factory=dict)
    behaviour: dict[str, Any] = Field(default_factory=dict)
    args: dict[str, Any] = Field(default_factory=dict)
    agent_id: str = "test-agent"
    task_id: int = Field(default=1, ge=1, le=INT64_MAX)


class HandlerTestOut(BaseModel):
    output: str
    is_error: bool
    note: str
    duration_ms: float
    logs: str


def build_router() -> APIRouter:
    """Handlers (CRUD, modes, versions, test), the demo, config export/import and Export as Python."""
    router = APIRouter(prefix="/api", tags=["api"])

    @router.post(
        "/demo",
        response_model=list[RunStarted],
        status_code=202,
        summary="Install the demo handlers (auto) and start every demo agent once",
    )
    async def run_demo() -> list[RunStarted]:
        runtime = get_runtime()
        started = await demo.run_demo(engine=runtime.engine, client=runtime.client)
        for run in started:
            changes.emit(run.task_id)
        return started

    @router.get(
        "/config",
        response_model=config_io.ConfigDocument,
        summary="Every agent and handler as one JSON document (the import format)",
    )
    async def export_config() -> config_io.ConfigDocument:
        engine = get_runtime().engine
        return await asyncio.to_thread(lambda: config_io.export_config(engine=engine))

    @router.post(
        "/config",
        response_model=config_io.ImportReport,
        summary="Import a document from GET /api/config: all of it, or nothing",
    )
    async def import_config(request: Request) -> config_io.ImportReport:
        raw = await request.body()
        runtime = get_runtime()
        report = await asyncio.to_thread(lambda: config_io.import_config(engine=runtime.engine, document=raw))
        background_tasks.create(runtime.responder.sweep(), name="handlers")
        changes.emit(0)
        return report

    @router.get(
        "/agents/{agent_id}/handlers.py",
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

    @router.get("/handlers", response_model=list[HandlerPublic], summary="Handlers, by agent and tool")
    async def list_handlers(agent_id: str | None = None) -> list[HandlerPublic]:
        engine = get_runtime().engine
        return await asyncio.to_thread(lambda: handler_store.list_handlers(engine=engine, agent_id=agent_id))

    @router.post("/handlers", response_model=HandlerPublic, summary="Create or replace the handler of a tool")
    async def save_handler(request: Request) -> HandlerPublic:
        body = await parse_body(request, handler_store.HandlerIn)
        engine = get_runtime().engine
        saved = await asyncio.to_thread(lambda: handler_store.save_handler(engine=engine, handler=body))
        background_tasks.create(get_runtime().responder.sweep(), name="handlers")
        changes.emit(0)
        return saved

    @router.post(
        "/rounds/{round_id}/calls/{tool_call_id}/rule",
        response_model=HandlerPublic,
        summary="Save the answer a call received as a rule of its tool's rules handler",
    )
    async def save_as_rule(round_id: Id, tool_call_id: str) -> HandlerPublic:
        engine = get_runtime().engine
        return await asyncio.to_thread(
            lambda: handler_store.save_result_as_rule(engine=engine, round_id=round_id, tool_call_id=tool_call_id)
        )

    @router.get("/handlers/{handler_id}", response_model=HandlerPublic, summary="One handler")
    async def get_handler(handler_id: Id) -> HandlerPublic:
        engine = get_runtime().engine
        return await asyncio.to_thread(lambda: handler_store.get_handler(engine=engine, handler_id=handler_id))

    @router.put("/handlers/{handler_id}/mode", response_model=HandlerPublic, summary="manual, suggest or auto")
    async def set_mode(handler_id: Id, request: Request) -> HandlerPublic:
        body = await parse_body(request, ModeIn)
        engine = get_runtime().engine
        saved = await asyncio.to_thread(
            lambda: handler_store.set_mode(engine=engine, handler_id=handler_id, mode=body.mode)
        )
        background_tasks.create(get_runtime().responder.sweep(), name="handlers")
        changes.emit(0)
        return saved

    @router.delete("/handlers/{handler_id}", status_code=204, summary="Remove a handler and its history")
    async def delete_handler(handler_id: Id) -> Response:
        engine = get_runtime().engine
        await asyncio.to_thread(lambda: handler_store.delete_handler(engine=engine, handler_id=handler_id))
        changes.emit(0)
        return Response(status_code=204)

    @router.get(
        "/handlers/{handler_id}/versions",
        response_model=list[handler_store.VersionPublic],
        summary="Saved versions, newest first",
    )
    async def list_versions(handler_id: Id) -> list[handler_store.VersionPublic]:
        engine = get_runtime().engine
        await asyncio.to_thread(lambda: handler_store.get_handler(engine=engine, handler_id=handler_id))
        return await asyncio.to_thread(lambda: handler_store.list_versions(engine=engine, handler_id=handler_id))

    @router.post(
        "/handlers/{handler_id}/versions/{version}/restore",
        response_model=HandlerPublic,
        summary="Save an old version again as the newest",
    )
    async def restore_version(handler_id: Id, version: Id) -> HandlerPublic:
        engine = get_runtime().engine
        restored = await asyncio.to_thread(
            lambda: handler_store.restore_version(engine=engine, handler_id=handler_id, version=version)
        )
        changes.emit(0)
        return restored

    @router.post("/handlers/test", response_model=HandlerTestOut, summary="Run a handler on sample arguments")
    async def test_handler(request: Request) -> HandlerTestOut:
        body = await parse_body(request, HandlerTestIn)
        runtime = get_runtime()
        spec, behaviour = handler_store.validate(
            handler_store.HandlerIn(
                agent_id=body.agent_id,
                tool_name=body.tool_name,
                kind=body.kind,
                spec=body.spec,
                behaviour=body.behaviour,
            )
        )
        call = CallInput(
            tool_call_id="call_test",
            tool_name=body.tool_name,
            args=body.args,
            agent_id=body.agent_id,
            task_id=body.task_id,
            round=1,
            results={},
        )
        sandbox = await runtime.sandbox() if body.kind == HandlerKind.PYTHON else None
        done = await answer_call(kind=body.kind, spec=spec, behaviour=behaviour, call=call, sandbox=sandbox)
        return HandlerTestOut(
            output=done.answer.output,
            is_error=done.answer.is_error,
            note=done.answer.note,
            duration_ms=done.duration_ms,
            logs=done.logs,
        )

    return router
