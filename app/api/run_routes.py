"""``/api`` routes for runs, rounds, deliveries and agents."""

from __future__ import annotations

import asyncio
import json
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import Response
from pydantic import AfterValidator, BaseModel, Field

from app.api.common import Id, NoSettings, require_json
from app.auth.access import api_answerer, is_admin, need
from app.errors import PlatformError
from app.models import DeliveryPublic, RoundPublic, RunDetail, RunPublic
from app.protocol import INT64_MAX, RunStarted, RunStatus, StartRun, ToolResult
from app.runtime import get_runtime
from app.services import agents, compare, deliveries, ingest, overview, rounds, runs, skip
from app.services import replay as run_replay
from app.states import Role, RoundState, Verdict

router = APIRouter(prefix="/api", tags=["api"], dependencies=[Depends(require_json)])
"""Runs, rounds, deliveries, comparison, overview and starting runs; ``app.api`` mounts it."""


class ResponsesIn(BaseModel):
    """``POST /api/rounds/{id}/responses``: one result per tool call; ``answered_by`` names the person or script
    who answered (stored as answerer kind ``person``, followed by the token or user that sent it:
    ``app.auth.access.api_answerer``)."""

    results: list[ToolResult]
    answered_by: str = Field(default="api", min_length=1, max_length=80)


class SkipIn(BaseModel):
    """``POST /api/rounds/{id}/skip``: ``reason`` becomes every call's error output; ``answered_by`` as for
    ``responses``."""

    reason: str = Field(min_length=1, max_length=skip.MAX_REASON_CHARS)
    answered_by: str = Field(default="api", min_length=1, max_length=80)


class ReplayRunIn(BaseModel):
    """``until_round``: answer rounds 1..k from the original run (0: answer none), leave the next to a person."""

    until_round: int = Field(ge=0, le=10_000)


def _sendable(edited: Any) -> Any:
    """``edited`` as it is; ``ValueError`` when its text cannot be written as UTF-8 (a lone UTF-16 surrogate such as
    ``"\\ud800"``, which JSON's escapes can carry), so the replay is a 422 rather than a 500 when encoding it."""
    text = edited if isinstance(edited, str) else json.dumps(edited, ensure_ascii=False)
    try:
        text.encode()
    except UnicodeEncodeError:
        raise ValueError("it holds a lone UTF-16 surrogate: not Unicode text, so it cannot be sent as UTF-8") from None
    return edited


class ReplayIn(BaseModel):
    """``body``: leave out to replay the stored bytes; a JSON value or text to replay an edited body."""

    body: Annotated[Any, AfterValidator(_sendable)] = None


class ReplayOut(BaseModel):
    delivery_id: int
    verdict: Verdict
    answered_status: int
    answer: dict[str, Any]


class RunsPage(BaseModel):
    total: int
    runs: list[RunPublic]


@router.get(
    "/runs",
    dependencies=[Depends(need(Role.VIEWER))],
    response_model=RunsPage,
    summary="Runs: filters, search, order and one page",
)
async def list_runs(where: Annotated[runs.RunFilter, Query()]) -> RunsPage:
    """``agent_id``, ``status``, ``environment``, ``since`` (hour, day, week), ``q`` (tool names, arguments,
    results), ``sort`` and ``descending``, ``page`` and ``per_page`` (up to 500); ``total`` counts all matches."""
    engine = get_runtime().engine
    items, total = await asyncio.to_thread(lambda: runs.search_runs(engine=engine, where=where))
    return RunsPage(total=total, runs=items)


@router.get(
    "/runs/{task_id}",
    dependencies=[Depends(need(Role.VIEWER))],
    response_model=RunDetail,
    summary="One run: status, result, rounds, events",
)
async def get_run(task_id: Id) -> RunDetail:
    engine = get_runtime().engine
    return await asyncio.to_thread(lambda: runs.get_run(engine=engine, task_id=task_id))


@router.get(
    "/compare",
    dependencies=[Depends(need(Role.VIEWER))],
    response_model=compare.Comparison,
    summary="Two runs side by side, calls aligned",
)
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
    dependencies=[Depends(need(Role.ADMIN))],
    response_model=RunStarted,
    status_code=202,
    summary="Run the agent again with the same inputs; rounds 1..until_round answered as in this run",
)
async def replay_run(task_id: Id, body: ReplayRunIn) -> RunStarted:
    runtime = get_runtime()
    started = await run_replay.replay_run(
        engine=runtime.engine, client=runtime.client, task_id=task_id, until_round=body.until_round
    )
    runtime.run_replayed(original=task_id, started=started.task_id)
    return started


@router.get(
    "/rounds",
    dependencies=[Depends(need(Role.VIEWER))],
    response_model=list[RoundPublic],
    summary="Rounds; state=pending for the inbox",
)
async def list_rounds(
    state: str = Query(RoundState.PENDING, pattern=f"^{RoundState.PENDING}$"),
) -> list[RoundPublic]:
    engine = get_runtime().engine
    return await asyncio.to_thread(lambda: rounds.list_pending_rounds(engine=engine))


@router.get(
    "/rounds/{round_id}", dependencies=[Depends(need(Role.VIEWER))], response_model=RoundPublic, summary="One round"
)
async def get_round(round_id: Id) -> RoundPublic:
    engine = get_runtime().engine
    return await asyncio.to_thread(lambda: rounds.get_round(engine=engine, round_id=round_id))


@router.post(
    "/rounds/{round_id}/responses",
    dependencies=[Depends(need(Role.ANSWERER))],
    response_model=RoundPublic,
    summary="Answer a round: one result per tool call, sent once to the platform through the outbox",
    responses={202: {"description": "stored; the platform did not answer yet and the outbox retries"}},
)
async def submit_round(round_id: Id, body: ResponsesIn, request: Request, response: Response) -> RoundPublic:
    runtime = get_runtime()
    answered = await rounds.submit_round(
        engine=runtime.engine,
        outbox=runtime.outbox,
        round_id=round_id,
        results=body.results,
        answered_by=api_answerer(request, body.answered_by),
    )
    if answered.state == RoundState.SUBMITTING:
        response.status_code = 202
    runtime.round_answered(answered.task_id)
    return answered


@router.post(
    "/rounds/{round_id}/skip",
    dependencies=[Depends(need(Role.ANSWERER))],
    response_model=RoundPublic,
    summary="Skip a round: every call answered with is_error and the reason, sent once through the outbox",
    responses={202: {"description": "stored; the platform did not answer yet and the outbox retries"}},
)
async def skip_round(round_id: Id, body: SkipIn, request: Request, response: Response) -> RoundPublic:
    """422 for a blank reason; otherwise the errors of ``/responses`` (409 when the round is not pending)."""
    runtime = get_runtime()
    answered = await skip.skip_round(
        engine=runtime.engine,
        outbox=runtime.outbox,
        round_id=round_id,
        reason=body.reason,
        answered_by=api_answerer(request, body.answered_by),
    )
    if answered.state == RoundState.SUBMITTING:
        response.status_code = 202
    runtime.round_answered(answered.task_id)
    return answered


@router.get(
    "/deliveries",
    dependencies=[Depends(need(Role.VIEWER))],
    response_model=deliveries.DeliveryPage,
    summary="Webhook deliveries, newest first: one page",
)
async def list_deliveries(
    where: Annotated[deliveries.DeliveryFilter, Query()], request: Request
) -> deliveries.DeliveryPage:
    """``task_id`` (a refused delivery's is the one its body claims: ``task_id_claimed``), ``verdict``, ``q`` (text
    the stored body holds, case-sensitive, in the newest 20,000 deliveries matching the rest: ``searched_above``),
    ``before`` (the ``next_before`` of the page before), ``page`` and ``per_page`` (up to 500); ``total`` counts
    the matches up to 10,000 (``total_exact`` false past that). Bodies are shown as ``body_preview`` only: the
    stored body is ``GET /api/deliveries/{id}``; ``headers.webhook-signature`` only for an admin
    (``deliveries.shown_headers``)."""
    engine, admin = get_runtime().engine, is_admin(request)
    return await asyncio.to_thread(lambda: deliveries.list_deliveries(engine=engine, where=where, admin=admin))


@router.post(
    "/deliveries/{delivery_id}/replay",
    dependencies=[Depends(need(Role.ADMIN))],
    response_model=ReplayOut,
    summary="Send a stored delivery (or an edited body) through ingestion again, signed anew",
)
async def replay_delivery(delivery_id: Id, edit: ReplayIn | None = None) -> ReplayOut:
    runtime = get_runtime()
    edited = None if edit is None else edit.body
    body = (
        None
        if edited is None
        else (edited if isinstance(edited, str) else json.dumps(edited, ensure_ascii=False)).encode()
    )
    outcome = await asyncio.to_thread(
        lambda: ingest.replay_delivery(engine=runtime.engine, secret=runtime.secret, delivery_id=delivery_id, body=body)
    )
    runtime.delivered(outcome)
    return ReplayOut(
        delivery_id=outcome.delivery_id,
        verdict=outcome.verdict,
        answered_status=outcome.status_code,
        answer=dict(outcome.body),
    )


@router.get(
    "/deliveries/{delivery_id}",
    dependencies=[Depends(need(Role.VIEWER))],
    response_model=DeliveryPublic,
    summary="One delivery, its stored body included",
)
async def get_delivery(delivery_id: Id, request: Request) -> DeliveryPublic:
    """``headers.webhook-signature`` only for an admin (``deliveries.shown_headers``)."""
    engine, admin = get_runtime().engine, is_admin(request)
    return await asyncio.to_thread(lambda: deliveries.get_delivery(engine=engine, delivery_id=delivery_id, admin=admin))


@router.get(
    "/overview",
    dependencies=[Depends(need(Role.VIEWER))],
    response_model=overview.Overview,
    summary="What the Overview page shows: runs by status, rounds per minute, answer latency, deliveries",
)
async def get_overview() -> overview.Overview:
    engine = get_runtime().engine
    return await asyncio.to_thread(lambda: overview.overview(engine=engine))


@router.post(
    "/agents/{agent_id}/runs",
    dependencies=[Depends(need(Role.ANSWERER))],
    response_model=RunStarted,
    status_code=202,
    summary="Start a run",
)
async def start_run(agent_id: str, body: StartRun | None = None) -> RunStarted:
    """``string_inputs`` and ``environment``; an empty body starts the run with no inputs in the playground."""
    runtime = get_runtime()
    started = await agents.start_run(
        engine=runtime.engine, client=runtime.client, agent_id=agent_id, body=body or StartRun(), started_by="api"
    )
    runtime.run_started(started.task_id)
    return started


@router.post(
    "/runs/{task_id}/cancel",
    dependencies=[Depends(need(Role.ANSWERER))],
    response_model=RunStatus,
    summary="Ask the platform to cancel a run; the change arrives by webhook",
)
async def cancel_run(task_id: Id, _body: NoSettings | None = None) -> RunStatus:
    """404 for an unknown run; the platform's own status and code when it refuses (409 for a run that is over)."""
    runtime = get_runtime()
    detail = await asyncio.to_thread(lambda: runs.get_run(engine=runtime.engine, task_id=task_id))
    try:
        return await runs.cancel_run(
            engine=runtime.engine, client=runtime.client, agent_id=detail.agent_id, task_id=task_id
        )
    except PlatformError:
        runtime.runs_reconciled([task_id])  # the refusal made the console ask the platform about the run
        raise
