"""The JSON API under ``/api`` for scripts and tests, documented at ``/docs``.

The routes call the same services as the UI. Errors use the contract's shape
``{"error": {"code", "message"}}`` with the status each error knows.
"""

from __future__ import annotations

import asyncio
from typing import Annotated, Any, TypeVar

from fastapi import APIRouter, Path, Query, Request
from fastapi.exception_handlers import http_exception_handler
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, Field, ValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException

from app.errors import BadRequest, TooldeskError
from app.models import DeliveryPublic, RoundPublic, RunDetail, RunPublic
from app.protocol import INT64_MAX, RunStarted, StartRun, ToolResult
from app.runtime import get_runtime
from app.services import agents, deliveries, rounds, runs
from app.services.bus import changes

M = TypeVar("M", bound=BaseModel)
Id = Annotated[int, Path(ge=1, le=INT64_MAX, description="a positive integer that fits SQLite's 64 bits")]


class ResponsesIn(BaseModel):
    """``POST /api/rounds/{id}/responses``: one result per tool call; ``answered_by`` names who answered."""

    results: list[ToolResult]
    answered_by: str = Field(default="api", min_length=1, max_length=80)


class RunsPage(BaseModel):
    total: int
    runs: list[RunPublic]


def build_router() -> APIRouter:
    """All ``/api`` routes; ``app.main`` includes the router."""
    router = APIRouter(prefix="/api", tags=["api"])

    @router.get("/runs", response_model=RunsPage, summary="Runs, newest first")
    async def list_runs(limit: int = Query(200, ge=1, le=1000), offset: int = Query(0, ge=0, le=INT64_MAX)) -> RunsPage:
        engine = get_runtime().engine
        items, total = await asyncio.to_thread(lambda: runs.list_runs(engine=engine, limit=limit, offset=offset))
        return RunsPage(total=total, runs=items)

    @router.get("/runs/{task_id}", response_model=RunDetail, summary="One run: status, result, rounds, events")
    async def get_run(task_id: Id) -> RunDetail:
        engine = get_runtime().engine
        return await asyncio.to_thread(lambda: runs.get_run(engine=engine, task_id=task_id))

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

    @router.get("/deliveries/{delivery_id}", response_model=DeliveryPublic, summary="One delivery, raw body included")
    async def get_delivery(delivery_id: Id) -> DeliveryPublic:
        engine = get_runtime().engine
        return await asyncio.to_thread(lambda: deliveries.get_delivery(engine=engine, delivery_id=delivery_id))

    @router.post("/agents/{agent_id}/runs", response_model=RunStarted, status_code=202, summary="Start a run")
    async def start_run(agent_id: str, request: Request) -> RunStarted:
        body = await _parse(request, StartRun)
        runtime = get_runtime()
        started = await agents.start_run(
            engine=runtime.engine, client=runtime.client, agent_id=agent_id, body=body, started_by="api"
        )
        changes.emit(started.task_id)
        return started

    return router


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
