"""The simulator's HTTP API: the contract's endpoints over a ``Simulator``.

Paths are the contract's (``/v1/agents…``); the console mounts the router
under ``/sim``. Every request needs ``Authorization: Bearer <api key>`` (401
``unauthorized``). Bodies are pydantic body parameters, so ``/docs`` shows each;
a body sent without a Content-Type is still read as JSON (a lenient stand-in
platform). A bad body is a 422 ``bad_body`` and every error has the contract's
shape ``{"error": {"code", "message"}}`` — never FastAPI's ``{"detail": …}``.
"""

from __future__ import annotations

import secrets
import typing
from collections.abc import Callable, Coroutine
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Header, Path, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.routing import APIRoute
from pydantic import BaseModel

from app.errors import field_problems
from app.protocol import (
    INT64_MAX,
    AgentSpec,
    ErrorBody,
    RunStarted,
    RunStatus,
    StartRun,
    StartRunWithExpiry,
    ToolResponses,
)
from app.simulator.control import Tally, add_control_routes
from app.simulator.engine import Simulator
from app.simulator.refusals import SimulatorError

_ERRORS: dict[int | str, dict[str, Any]] = {
    status: {"model": ErrorBody, "description": description}
    for status, description in {
        401: "missing or wrong API key",
        404: "unknown agent or task",
        409: "not awaiting that round, or already terminal",
        410: "the round expired",
        422: "bad body, tool call mismatch or reused idempotency key",
    }.items()
}

TaskId = Annotated[int, Path(ge=-INT64_MAX - 1, le=INT64_MAX)]
"""A task id in the path: one SQLite can hold (a larger one failed inside the lookup with a 500; now 404)."""


class _ContractRoute(APIRoute):
    """Turns ``SimulatorError`` and FastAPI's errors into the contract's error body: a bad body is 422
    ``bad_body`` naming each problem, a bad path parameter (a task id that is not an integer) 404.

    ``check_first`` (the API key check) runs before the body is read: FastAPI reads and parses a body before it
    solves dependencies, so a caller without the key could otherwise make the console hold any body in memory,
    and learn from a 422 how it was parsed."""

    check_first: Callable[[Request], None] | None = None

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def contract_handler(request: Request) -> Response:
            try:
                if self.check_first is not None:
                    self.check_first(request)
                return await handler(request)
            except SimulatorError as exc:
                return _error(exc)
            except RequestValidationError as exc:
                if any(tuple(e.get("loc", ()))[:1] == ("body",) for e in exc.errors()):
                    return _error(_bad_body(exc, _body_name(self)))
                bad = ", ".join(f"{e['loc'][-1]} {e.get('input')!r}" for e in exc.errors())
                return _error(SimulatorError(404, "not_found", f"no such resource ({bad}): task ids are integers"))

        return contract_handler


def build_router(simulator: Simulator) -> APIRouter:
    """The contract's five endpoints over ``simulator``, tagged ``simulator``, and its ``/_control``
    endpoints (``app.simulator.control``: faults, what it received, stats)."""
    tally = Tally()

    def authorize(request: Request) -> None:
        header = request.headers.get("authorization", "")
        scheme, _, key = header.partition(" ")
        if not header:
            raise SimulatorError(401, "unauthorized", "missing Authorization header: send 'Bearer <api key>'")
        if scheme.lower() != "bearer" or not secrets.compare_digest(key.strip().encode(), simulator.api_key.encode()):
            raise SimulatorError(401, "unauthorized", "wrong API key: send the key the simulator was started with")

    class KeyFirstRoute(_ContractRoute):
        check_first = staticmethod(authorize)

    router = APIRouter(
        tags=["simulator"],
        route_class=KeyFirstRoute,
        responses=_ERRORS,
        dependencies=[Depends(authorize)],
        strict_content_type=False,
    )

    @router.get("/v1/agents", response_model=list[AgentSpec])
    async def list_agents() -> Response:
        """The agents the simulator plays (one per scenario file)."""
        return JSONResponse([agent.model_dump(mode="json") for agent in simulator.list_agents()])

    @router.post("/v1/agents/{agent_id}/runs", status_code=202, response_model=RunStarted)
    async def start_agent_run(agent_id: str, body: StartRunWithExpiry | None = None) -> Response:
        """Start a run (start-only: no stream); progress arrives by webhook. No body: no inputs, playground.
        ``round_ttl`` (seconds, not in the contract) gives this run's rounds their own expiry."""
        started = await simulator.start_run(agent_id, body or StartRun())
        tally.started.append((agent_id, started.task_id))
        return JSONResponse(started.model_dump(mode="json"), status_code=202)

    @router.get("/v1/agents/{agent_id}/runs/{task_id}", response_model=RunStatus)
    async def get_agent_task_status(agent_id: str, task_id: TaskId) -> Response:
        """The task's current status, for a one-off reconciliation."""
        return _status(simulator.get_status(agent_id, task_id))

    @router.post("/v1/agents/{agent_id}/runs/{task_id}/tool_responses", response_model=RunStatus)
    async def send_tool_responses(
        agent_id: str, task_id: TaskId, body: ToolResponses, idempotency_key: str | None = Header(default=None)
    ) -> Response:
        """Answer every tool call of the open round at once."""
        try:
            simulator.faults.check_tool_responses()
            reply = await simulator.send_tool_responses(agent_id, task_id, body, idempotency_key)
        except SimulatorError as exc:
            tally.answered(exc)
            raise
        tally.answered(None)
        return _status(reply)

    @router.post("/v1/agents/{agent_id}/runs/{task_id}/cancel", response_model=RunStatus)
    async def cancel(agent_id: str, task_id: TaskId, _body: NoBody | None = None) -> Response:
        """Cancel a task that has not ended (the contract sends no body)."""
        return _status(await simulator.cancel(agent_id, task_id))

    add_control_routes(router, simulator, tally)
    return router


class NoBody(BaseModel):
    """A request that takes no body: nothing, or ``{}`` (other fields are ignored)."""


def _bad_body(exc: RequestValidationError, model: str) -> SimulatorError:
    """422 ``bad_body``: not JSON (with where), or every problem as "field: message"."""
    first = dict(exc.errors()[0])
    if first.get("type") == "json_invalid":
        reason = (first.get("ctx") or {}).get("error", "invalid JSON")
        where = tuple(first.get("loc", ()))[-1]
        return SimulatorError(422, "bad_body", f"the body is not JSON ({reason} at char {where}): send a JSON object")
    problems = "; ".join(field_problems(exc, skip=1))
    return SimulatorError(422, "bad_body", f"the body is not a valid {model}: {problems}")


def _body_name(route: APIRoute) -> str:
    """The name of the route's body model (``StartRun`` for ``StartRun | None``)."""
    annotation = route.body_field.field_info.annotation if route.body_field else None
    for candidate in (annotation, *typing.get_args(annotation)):
        if isinstance(candidate, type) and issubclass(candidate, BaseModel):
            return candidate.__name__
    return "body"


def _status(status: RunStatus) -> JSONResponse:
    return JSONResponse(status.model_dump(mode="json"))


def _error(exc: SimulatorError) -> JSONResponse:
    headers = {"www-authenticate": "Bearer"} if exc.status == 401 else None
    return JSONResponse(exc.body(), status_code=exc.status, headers=headers)
