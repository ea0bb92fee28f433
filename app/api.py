"""The JSON API under ``/api`` for scripts and tests, documented at ``/docs``.

The routes call the same services as the UI. Errors use the contract's shape
``{"error": {"code", "message"}}`` with the status each error knows.
"""

from __future__ import annotations

import asyncio
import json
from typing import Annotated, Any, TypeVar

from fastapi import APIRouter, Path, Query, Request
from fastapi.exception_handlers import http_exception_handler
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, PlainTextResponse, Response
from nicegui import background_tasks
from pydantic import BaseModel, Field, ValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException

from app.errors import BadRequest, TooldeskError
from app.handlers.run import CallInput, answer_call
from app.models import DeliveryPublic, HandlerPublic, RoundPublic, RunDetail, RunPublic
from app.protocol import INT64_MAX, RunStarted, StartRun, ToolResult
from app.runtime import get_runtime
from app.services import agents, compare, config_io, deliveries, demo, handlers, ingest, overview, rounds, runs
from app.services import export_python as export_python_module
from app.services import replay as run_replay
from app.services.bus import changes

M = TypeVar("M", bound=BaseModel)
Id = Annotated[int, Path(ge=1, le=INT64_MAX, description="a positive integer that fits SQLite's 64 bits")]


class ResponsesIn(BaseModel):
    """``POST /api/rounds/{id}/responses``: one result per tool call; ``answered_by`` names who answered."""

    results: list[ToolResult]
    answered_by: str = Field(default="api", min_length=1, max_length=80)


class ReplayRunIn(BaseModel):
    """``until_round``: answer rounds 1..k from the original run (0: answer none), leave the next to a person."""

    until_round: int = Field(ge=0, le=10_000)


class ReplayIn(BaseModel):
    """``body``: leave out to replay the stored bytes; a JSON value or text to replay an edited body."""

    body: Any = None


class ReplayOut(BaseModel):
    delivery_id: int
    verdict: str
    answered_status: int
    answer: dict[str, Any]


class RunsPage(BaseModel):
    total: int
    runs: list[RunPublic]


def build_router() -> APIRouter:
    """All ``/api`` routes; ``app.main`` includes the router."""
    router = APIRouter(prefix="/api", tags=["api"])

    @router.get("/runs", response_model=RunsPage, summary="Runs: filters, search, order and one page")
    async def list_runs(where: Annotated[runs.RunFilter, Query()]) -> RunsPage:
        """``agent_id``, ``status``, ``environment``, ``since`` (hour, day, week), ``q`` (tool names, arguments,
        results), ``sort`` and ``descending``, ``page`` and ``per_page`` (up to 500); ``total`` counts all matches."""
        engine = get_runtime().engine
        items, total = await asyncio.to_thread(lambda: runs.search_runs(engine=engine, where=where))
        return RunsPage(total=total, runs=items)

    @router.get("/runs/{task_id}", response_model=RunDetail, summary="One run: status, result, rounds, events")
    async def get_run(task_id: Id) -> RunDetail:
        engine = get_runtime().engine
        return await asyncio.to_thread(lambda: runs.get_run(engine=engine, task_id=task_id))

    @router.get("/compare", response_model=compare.Comparison, summary="Two runs side by side, calls aligned")
    async def compare_runs(
        a: int = Query(ge=1, le=INT64_MAX, description="task_id of run A"),
        b: int = Query(ge=1, le=INT64_MAX, description="task_id of run B"),
    ) -> compare.Comparison:
        """Headers, run-level flags and the steps: rounds by number, calls by tool name and occurrence;
        ``tool_call_id`` never counts as a difference. 404 names the side whose run is unknown."""
        engine = get_runtime().engine
        return await asyncio.to_thread(lambda: compare.compare_runs(engine=engine, a=a, b=b))

    @router.post(
        "/runs/{task_id}/replay",
        response_model=RunStarted,
        status_code=202,
        summary="Run the agent again with the same inputs; rounds 1..until_round answered as in this run",
    )
    async def replay_run(task_id: Id, request: Request) -> RunStarted:
        body = await _parse(request, ReplayRunIn)
        runtime = get_runtime()
        started = await run_replay.replay_run(
            engine=runtime.engine, client=runtime.client, task_id=task_id, until_round=body.until_round
        )
        changes.emit(task_id)
        changes.emit(started.task_id)
        background_tasks.create(runtime.responder.handle_task(started.task_id), name="replay")
        return started

    @router.get("/rounds", response_model=list[RoundPublic], summary="Rounds; state=pending for the inbox")
    async def list_rounds(state: str = Query("pending", pattern="^pending$")) -> list[RoundPublic]:
        engine = get_runtime().engine
        return await asyncio.to_thread(lambda: rounds.list_pending_rounds(engine=engine))

    @router.get("/rounds/{round_id}", response_model=RoundPublic, summary="One round")
    async def get_round(round_id: Id) -> RoundPublic:
        engine = get_runtime().engine
        return await asyncio.to_thread(lambda: rounds.get_round(engine=engine, round_id=round_id))

    @router.post(
        "/rounds/{round_id}/responses",
        response_model=RoundPublic,
        summary="Answer a round: one result per tool call, sent once to the platform through the outbox",
        responses={202: {"description": "stored; the platform did not answer yet and the outbox retries"}},
    )
    async def submit_round(round_id: Id, request: Request, response: Response) -> RoundPublic:
        body = await _parse(request, ResponsesIn)
        runtime = get_runtime()
        answered = await rounds.submit_round(
            engine=runtime.engine,
            outbox=runtime.outbox,
            round_id=round_id,
            results=body.results,
            answered_by=body.answered_by,
        )
        if answered.state == "submitting":
            response.status_code = 202
        changes.emit(answered.task_id)
        return answered

    @router.get("/deliveries", response_model=list[DeliveryPublic], summary="Webhook deliveries, newest first")
    async def list_deliveries(
        task_id: int | None = Query(None, ge=1, le=INT64_MAX),
        verdict: str | None = None,
        limit: int = Query(200, ge=1, le=1000),
    ) -> list[DeliveryPublic]:
        engine = get_runtime().engine
        return await asyncio.to_thread(
            lambda: deliveries.list_deliveries(engine=engine, task_id=task_id, verdict=verdict, limit=limit)
        )

    @router.post(
        "/deliveries/{delivery_id}/replay",
        response_model=ReplayOut,
        summary="Send a stored delivery (or an edited body) through ingestion again, signed anew",
    )
    async def replay(delivery_id: Id, request: Request) -> ReplayOut:
        edit = await _parse(request, ReplayIn)
        runtime = get_runtime()
        body = (
            None
            if edit.body is None
            else (edit.body if isinstance(edit.body, str) else json.dumps(edit.body, ensure_ascii=False)).encode()
        )
        outcome = await asyncio.to_thread(
            lambda: ingest.replay_delivery(
                engine=runtime.engine, secret=runtime.secret, delivery_id=delivery_id, body=body
            )
        )
        runtime.delivered(outcome)
        return ReplayOut(
            delivery_id=outcome.delivery_id,
            verdict=outcome.verdict,
            answered_status=outcome.status_code,
            answer=dict(outcome.body),
        )

    @router.get("/deliveries/{delivery_id}", response_model=DeliveryPublic, summary="One delivery, raw body included")
    async def get_delivery(delivery_id: Id) -> DeliveryPublic:
        engine = get_runtime().engine
        return await asyncio.to_thread(lambda: deliveries.get_delivery(engine=engine, delivery_id=delivery_id))

    @router.get(
        "/overview",
        response_model=overview.Overview,
        summary="What the Overview page shows: runs by status, rounds per minute, answer latency, deliveries",
    )
    async def get_overview() -> overview.Overview:
        engine = get_runtime().engine
        return await asyncio.to_thread(lambda: overview.overview(engine=engine))

    @router.post("/agents/{agent_id}/runs", response_model=RunStarted, status_code=202, summary="Start a run")
    async def start_run(agent_id: str, request: Request) -> RunStarted:
        body = await _parse(request, StartRun)
        runtime = get_runtime()
        started = await agents.start_run(
            engine=runtime.engine, client=runtime.client, agent_id=agent_id, body=body, started_by="api"
        )
        changes.emit(started.task_id)
        return started

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

    _handler_routes(router)
    return router


class ModeIn(BaseModel):
    mode: str = Field(pattern="^(manual|suggest|auto)$")


class HandlerTestIn(BaseModel):
    """A handler to try on sample arguments without saving it."""

    tool_name: str = Field(default="tool", min_length=1)
    kind: str = Field(pattern="^(static|rules|python)$")
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


def _handler_routes(router: APIRouter) -> None:
    @router.get("/handlers", response_model=list[HandlerPublic], summary="Handlers, by agent and tool")
    async def list_handlers(agent_id: str | None = None) -> list[HandlerPublic]:
        engine = get_runtime().engine
        return await asyncio.to_thread(lambda: handlers.list_handlers(engine=engine, agent_id=agent_id))

    @router.post("/handlers", response_model=HandlerPublic, summary="Create or replace the handler of a tool")
    async def save_handler(request: Request) -> HandlerPublic:
        body = await _parse(request, handlers.HandlerIn)
        engine = get_runtime().engine
        saved = await asyncio.to_thread(lambda: handlers.save_handler(engine=engine, handler=body))
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
            lambda: handlers.save_result_as_rule(engine=engine, round_id=round_id, tool_call_id=tool_call_id)
        )

    @router.get("/handlers/{handler_id}", response_model=HandlerPublic, summary="One handler")
    async def get_handler(handler_id: Id) -> HandlerPublic:
        engine = get_runtime().engine
        return await asyncio.to_thread(lambda: handlers.get_handler(engine=engine, handler_id=handler_id))

    @router.put("/handlers/{handler_id}/mode", response_model=HandlerPublic, summary="manual, suggest or auto")
    async def set_mode(handler_id: Id, request: Request) -> HandlerPublic:
        body = await _parse(request, ModeIn)
        engine = get_runtime().engine
        saved = await asyncio.to_thread(lambda: handlers.set_mode(engine=engine, handler_id=handler_id, mode=body.mode))
        background_tasks.create(get_runtime().responder.sweep(), name="handlers")
        changes.emit(0)
        return saved

    @router.delete("/handlers/{handler_id}", status_code=204, summary="Remove a handler and its history")
    async def delete_handler(handler_id: Id) -> Response:
        engine = get_runtime().engine
        await asyncio.to_thread(lambda: handlers.delete_handler(engine=engine, handler_id=handler_id))
        changes.emit(0)
        return Response(status_code=204)

    @router.get(
        "/handlers/{handler_id}/versions",
        response_model=list[handlers.VersionPublic],
        summary="Saved versions, newest first",
    )
    async def list_versions(handler_id: Id) -> list[handlers.VersionPublic]:
        engine = get_runtime().engine
        await asyncio.to_thread(lambda: handlers.get_handler(engine=engine, handler_id=handler_id))
        return await asyncio.to_thread(lambda: handlers.list_versions(engine=engine, handler_id=handler_id))

    @router.post(
        "/handlers/{handler_id}/versions/{version}/restore",
        response_model=HandlerPublic,
        summary="Save an old version again as the newest",
    )
    async def restore_version(handler_id: Id, version: Id) -> HandlerPublic:
        engine = get_runtime().engine
        restored = await asyncio.to_thread(
            lambda: handlers.restore_version(engine=engine, handler_id=handler_id, version=version)
        )
        changes.emit(0)
        return restored

    @router.post("/handlers/test", response_model=HandlerTestOut, summary="Run a handler on sample arguments")
    async def test_handler(request: Request) -> HandlerTestOut:
        body = await _parse(request, HandlerTestIn)
        runtime = get_runtime()
        spec, behaviour = handlers.validate(
            handlers.HandlerIn(
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
        sandbox = await runtime.sandbox() if body.kind == "python" else None
        done = await answer_call(kind=body.kind, spec=spec, behaviour=behaviour, call=call, sandbox=sandbox)
        return HandlerTestOut(
            output=done.answer.output,
            is_error=done.answer.is_error,
            note=done.answer.note,
            duration_ms=done.duration_ms,
            logs=done.logs,
        )


async def tooldesk_error_handler(_request: Request, exc: Exception) -> JSONResponse:
    """Turn a ``TooldeskError`` into its status and the contract's error body."""
    assert isinstance(exc, TooldeskError)
    return JSONResponse(exc.body(), status_code=exc.status)


async def _parse(request: Request, model: type[M]) -> M:
    raw = await request.body()
    try:
        return model.model_validate_json(raw or b"{}")
    except ValidationError as exc:
        first: dict[str, Any] = dict(exc.errors()[0])
        where = ".".join(str(part) for part in first["loc"]) or "body"
        raise BadRequest(f"{where}: {first['msg']}") from None


async def validation_error_handler(_request: Request, exc: Exception) -> JSONResponse:
    """FastAPI's own parameter errors, in the contract's error shape with status 422."""
    assert isinstance(exc, RequestValidationError)
    first = exc.errors()[0] if exc.errors() else {"loc": (), "msg": "invalid request"}
    where = ".".join(str(part) for part in first.get("loc", ())) or "request"
    return JSONResponse({"error": {"code": "bad_request", "message": f"{where}: {first.get('msg')}"}}, status_code=422)


async def http_error_handler(request: Request, exc: Exception) -> Response:
    """Starlette's own HTTP errors (405 and the like) in the contract's shape under ``/api`` and ``/webhooks``;
    elsewhere (the pages) FastAPI's default answer."""
    assert isinstance(exc, StarletteHTTPException)
    if not request.url.path.startswith(("/api/", "/webhooks/")):
        return await http_exception_handler(request, exc)
    code = {404: "not_found", 405: "method_not_allowed"}.get(exc.status_code, f"http_{exc.status_code}")
    message = f"{request.method} {request.url.path}: {exc.detail}"
    return JSONResponse(
        {"error": {"code": code, "message": message}},
        status_code=exc.status_code,
        headers=getattr(exc, "headers", None),
    )
