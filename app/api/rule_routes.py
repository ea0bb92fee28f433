"""``/api/handlers/{id}/unmatched`` and ``/api/handlers/{id}/rules/...``: a rules handler's unmatched calls, and
editing its rules one step at a time (duplicate, reorder, turn off or on), for scripts and CI."""

from __future__ import annotations

import asyncio
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query
from fastapi.responses import Response
from pydantic import AfterValidator, BaseModel, Field

from app.api.common import Id, NoSettings, require_json
from app.auth.access import need
from app.handlers.static import JsonOutput
from app.json_values import checked_json_value
from app.models import HandlerPublic, UnmatchedCallPublic
from app.runtime import get_runtime
from app.services import rule_edits, unmatched
from app.services.unmatched import UNMATCHED_KEPT
from app.states import Role

router = APIRouter(prefix="/api/handlers", tags=["api"], dependencies=[Depends(require_json)])
"""A rules handler's unmatched calls and its rules."""

RuleNumber = Annotated[int, Field(ge=1, le=100_000)]


class OrderIn(BaseModel):
    """The rules' current numbers in their new order, each once: ``[2, 1, 3]`` swaps the first two."""

    order: list[RuleNumber] = Field(max_length=100_000)


class EnabledIn(BaseModel):
    enabled: bool


class RuleAnswerIn(BaseModel):
    """What the new rule answers: ``output`` is a template (text, or a JSON value with string templates)."""

    output: Annotated[JsonOutput, AfterValidator(checked_json_value)] = ""
    is_error: bool = False


@router.get(
    "/{handler_id}/unmatched",
    dependencies=[Depends(need(Role.VIEWER))],
    response_model=list[UnmatchedCallPublic],
    summary=f"Calls no rule matched, newest first (the newest {UNMATCHED_KEPT} are kept per handler)",
)
async def list_unmatched(
    handler_id: Id, limit: Annotated[int, Query(ge=1, le=UNMATCHED_KEPT)] = UNMATCHED_KEPT
) -> list[UnmatchedCallPublic]:
    """Each with ``task_id``, ``round``, ``tool_call_id``, ``arguments``, what it was answered (``by_default``,
    ``is_error``, ``output``) and ``nearest``: the nearest rule with each condition's check. 404 unknown handler."""
    engine = get_runtime().engine
    return await asyncio.to_thread(lambda: unmatched.list_unmatched(engine=engine, handler_id=handler_id, limit=limit))


@router.delete(
    "/{handler_id}/unmatched",
    dependencies=[Depends(need(Role.ADMIN))],
    status_code=204,
    summary="Forget the handler's unmatched calls",
)
async def clear_unmatched(handler_id: Id) -> Response:
    runtime = get_runtime()
    await asyncio.to_thread(lambda: unmatched.clear_unmatched(engine=runtime.engine, handler_id=handler_id))
    runtime.handlers_changed()
    return Response(status_code=204)


@router.post(
    "/{handler_id}/unmatched/{unmatched_id}/rule",
    dependencies=[Depends(need(Role.ADMIN))],
    response_model=HandlerPublic,
    summary="Add a rule matching an unmatched call's arguments, answering `output`",
)
async def rule_from_unmatched(handler_id: Id, unmatched_id: Id, body: RuleAnswerIn) -> HandlerPublic:
    """The rule goes last (no rule matched these arguments, so it answers them wherever it stands), as a new
    version; the unmatched calls with the same arguments are forgotten. 404 unknown call; 422 when its arguments
    were not kept (not a JSON object, or too long) or the template does not compile."""
    runtime = get_runtime()
    saved = await asyncio.to_thread(
        lambda: unmatched.save_rule_from_unmatched(
            engine=runtime.engine,
            handler_id=handler_id,
            unmatched_id=unmatched_id,
            output=body.output,
            is_error=body.is_error,
        )
    )
    runtime.handlers_changed()
    return saved


@router.post(
    "/{handler_id}/rules/{number}/duplicate",
    dependencies=[Depends(need(Role.ADMIN))],
    response_model=HandlerPublic,
    summary="Insert a copy of rule `number` (from 1) right after it",
)
async def duplicate_rule(handler_id: Id, number: Id, _body: NoSettings | None = None) -> HandlerPublic:
    return await _edited(lambda engine: rule_edits.duplicate_rule(engine=engine, handler_id=handler_id, number=number))


@router.put(
    "/{handler_id}/rules/order",
    dependencies=[Depends(need(Role.ADMIN))],
    response_model=HandlerPublic,
    summary="Reorder the rules: `order` lists their current numbers in the new order",
)
async def reorder_rules(handler_id: Id, body: OrderIn) -> HandlerPublic:
    return await _edited(
        lambda engine: rule_edits.reorder_rules(engine=engine, handler_id=handler_id, order=body.order)
    )


@router.put(
    "/{handler_id}/rules/{number}/enabled",
    dependencies=[Depends(need(Role.ADMIN))],
    response_model=HandlerPublic,
    summary="Turn rule `number` (from 1) off or on without deleting it",
)
async def set_rule_enabled(handler_id: Id, number: Id, body: EnabledIn) -> HandlerPublic:
    return await _edited(
        lambda engine: rule_edits.set_rule_enabled(
            engine=engine, handler_id=handler_id, number=number, enabled=body.enabled
        )
    )


async def _edited(edit: Any) -> HandlerPublic:
    """Run a ``rule_edits`` call (a new version when it changed something), then tell pages and the responder."""
    runtime = get_runtime()
    saved: HandlerPublic = await asyncio.to_thread(edit, runtime.engine)
    runtime.handlers_changed()
    return saved
