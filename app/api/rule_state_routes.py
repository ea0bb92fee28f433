"""``/api`` routes for rules handlers' memory (``app.handlers.rules_steps``): each rule's count across runs, its
reset, and a run's state."""

from __future__ import annotations

import asyncio
from typing import Any

from fastapi import APIRouter, Depends
from pydantic import BaseModel

from app.api.common import Id, require_json
from app.auth.access import need
from app.runtime import get_runtime
from app.services import handler_store, rule_state
from app.states import Role

router = APIRouter(prefix="/api", tags=["api"], dependencies=[Depends(require_json)])
"""Counts of a handler's rules and the state of a run."""


class RuleCounts(BaseModel):
    """A handler's counts kept across runs, by rule (``"name:<name>"``, ``"#<position>"``); ``reset``: how many
    counts (per run and across runs) a reset forgot, else 0."""

    handler_id: int
    counts: dict[str, int]
    reset: int = 0


class RunStatePublic(BaseModel):
    """The state the run's rules set and match on (``{}`` before any ``set_state``)."""

    task_id: int
    state: dict[str, Any]


@router.get(
    "/handlers/{handler_id}/counts",
    dependencies=[Depends(need(Role.VIEWER))],
    response_model=RuleCounts,
    summary="How often each rule of a rules handler answered, counted across runs",
)
async def get_counts(handler_id: Id) -> RuleCounts:
    engine = get_runtime().engine

    def read() -> RuleCounts:
        handler = handler_store.get_handler(engine=engine, handler_id=handler_id)
        counts = rule_state.rule_counts(engine, agent_id=handler.agent_id, tool_name=handler.tool_name)
        return RuleCounts(handler_id=handler_id, counts=counts)

    return await asyncio.to_thread(read)


@router.delete(
    "/handlers/{handler_id}/counts",
    dependencies=[Depends(need(Role.ADMIN))],
    response_model=RuleCounts,
    summary="Reset a rules handler's counts, per run and across runs: every rule answers as call 1 again",
)
async def reset_counts(handler_id: Id) -> RuleCounts:
    engine = get_runtime().engine

    def reset() -> RuleCounts:
        handler = handler_store.get_handler(engine=engine, handler_id=handler_id)
        forgot = rule_state.reset_counts(engine, agent_id=handler.agent_id, tool_name=handler.tool_name)
        return RuleCounts(handler_id=handler_id, counts={}, reset=forgot)

    return await asyncio.to_thread(reset)


@router.get(
    "/runs/{task_id}/state",
    dependencies=[Depends(need(Role.VIEWER))],
    response_model=RunStatePublic,
    summary="The state a run's rules handlers set and match on",
)
async def get_run_state(task_id: Id) -> RunStatePublic:
    engine = get_runtime().engine
    state = await asyncio.to_thread(rule_state.run_state, engine, task_id)
    return RunStatePublic(task_id=task_id, state=state)
