"""Fallback handlers: a round nobody answered is answered by its tools' fallbacks shortly before it expires.

A handler whose behaviour has ``fallback_seconds: N`` (``app.handlers.faults.Behaviour``) is its tool's fallback,
whatever its mode (manual and suggest included): when a round of that agent is still *pending* N seconds before
its ``expires_at``, the fallback answers the round's calls of that tool, and the round is submitted.

A submission needs a result for every call of the round (contract, ``send_tool_responses``), so:

- each call must be covered, either by a fallback of its tool or by a handler's draft already stored for it
  (a suggestion, or an auto answer waiting for the round's manual calls); a call that neither covers makes the
  fallback do nothing, and the round stays with a person until it expires;
- when several tools of the round have fallbacks, the round is answered when the last of them is due: at
  ``expires_at`` minus the smallest N among them;
- a fallback reuses its handler's draft for a call when there is one, else it runs the handler.

Every call a fallback answered is marked as answered by ``fallback handler vN`` (``AnswererKind.FALLBACK`` with
the handler's version), a call covered by another handler's draft keeps that handler's name, and the round (and
the timeline line "round k answered by ...") says ``fallback``. Runs the demo started are left to the demo's own
set (``app.services.demo``). The timer lives in the responder: it is set whenever the responder looks at a round
(a new round, a handler change, the start-up sweep), so a restart keeps the schedule.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from nicegui import background_tasks
from sqlalchemy import Engine
from sqlmodel import col, select

from app.answerers import Answerer
from app.db import read_session
from app.handlers.faults import Behaviour
from app.handlers.run import CallAnswer, CallInput
from app.models import Draft, Handler, Round, Run, ToolCallRow
from app.pools import in_handlers
from app.protocol import ToolResult, deadline_seconds
from app.services.outbox import Outbox
from app.services.rounds import submit_unwatched
from app.states import HANDLER_DRAFT_MODES, AnswererKind, HandlerSet, RoundState

log = logging.getLogger("tooldesk")

FALLBACK = Answerer(kind=AnswererKind.FALLBACK)
"""Who submitted a round its fallbacks answered."""


@dataclass(frozen=True)
class FallbackPlan:
    """What the fallbacks of one pending round would do: at ``due_at`` (Unix seconds) answer ``todo`` by running
    their tools' handlers (``handlers`` by tool name), and send ``drafted`` (tool_call_id: draft) as they are.
    ``missing`` names the tools of calls that nothing covers (then nothing is sent)."""

    round_id: int
    task_id: int
    due_at: float
    todo: list[CallInput]
    drafted: dict[str, Draft]
    handlers: dict[str, Handler]
    missing: list[str]
    names: dict[str, str]
    """Each call's tool name, by tool_call_id."""


class Fallbacks:
    """The fallback timers of pending rounds, one per round. ``answer`` runs a handler on a call (the responder's,
    which fills in the task's earlier results); ``on_change`` tells open pages about a task."""

    def __init__(
        self,
        *,
        engine: Engine,
        outbox: Outbox,
        answer: Callable[[Handler, CallInput], Awaitable[CallAnswer]],
        on_change: Callable[[int], None],
    ) -> None:
        self._engine = engine
        self._outbox = outbox
        self._answer = answer
        self._on_change = on_change
        self._timers: dict[int, asyncio.Task[None]] = {}

    async def schedule(self, round_id: int) -> None:
        """Set (or set again) the round's timer from its current plan; none when it has no fallback."""
        plan = await in_handlers(plan_fallback, self._engine, round_id)
        waiting = self._timers.pop(round_id, None)
        if waiting is not None:
            waiting.cancel()  # only a timer still asleep is in the dict
        if plan is not None:
            work = self._when_due(round_id, seconds_until(plan))
            self._timers[round_id] = background_tasks.create(work, name=f"fallback of round {round_id}")

    def forget(self, round_id: int) -> None:
        """Stop the round's timer, if one is asleep (the round was just claimed for sending)."""
        waiting = self._timers.pop(round_id, None)
        if waiting is not None:
            waiting.cancel()

    def close(self) -> None:
        """Stop the timers still asleep (at shutdown; the next start sets them again from the database)."""
        for waiting in self._timers.values():
            waiting.cancel()
        self._timers.clear()

    async def answer_round(self, round_id: int) -> None:
        """Answer the round with its fallbacks now, if it is due and every call is covered (module docstring)."""
        plan = await in_handlers(plan_fallback, self._engine, round_id)
        if plan is None:
            return
        if plan.due_at > time.time() + 0.1:  # a handler changed meanwhile and the round is not due yet
            await self.schedule(round_id)
            return
        if plan.missing:
            log.info("round %s: no fallback answers it, as %s has no fallback or draft", round_id, plan.missing)
            return
        answers = await asyncio.gather(*(self._answer(plan.handlers[call.tool_name], call) for call in plan.todo))
        results = [
            ToolResult(tool_call_id=call.tool_call_id, output=done.answer.output, is_error=done.answer.is_error)
            for call, done in zip(plan.todo, answers, strict=True)
        ]
        results += [
            ToolResult(tool_call_id=call, output=draft.output, is_error=draft.is_error)
            for call, draft in plan.drafted.items()
        ]
        sources = {result.tool_call_id: call_answerer(plan, result.tool_call_id) for result in results}
        await submit_unwatched(
            engine=self._engine,
            outbox=self._outbox,
            round_id=round_id,
            results=results,
            answered_by=FALLBACK,
            sources=sources,
            what="answered by its fallback",
        )
        self._on_change(plan.task_id)

    async def _when_due(self, round_id: int, delay: float) -> None:
        await asyncio.sleep(delay)
        if self._timers.get(round_id) is asyncio.current_task():
            del self._timers[round_id]  # from here on nobody cancels it: the answer may be on its way
        await self.answer_round(round_id)


def plan_fallback(engine: Engine, round_id: int) -> FallbackPlan | None:
    """The round's fallback plan (blocking); ``None`` when the round is not pending, has no ``expires_at``, was
    started by the demo, or none of its tools has a fallback."""
    with read_session(engine) as session:
        row = session.get(Round, round_id)
        if row is None or row.state != RoundState.PENDING or not row.expires_at:
            return None
        expires = deadline_seconds(row.expires_at)
        run = session.get(Run, row.task_id)
        if expires is None or (run is not None and run.handler_set != HandlerSet.SAVED):
            return None
        fallbacks = {
            handler.tool_name: handler
            for handler in session.exec(select(Handler).where(Handler.agent_id == row.agent_id)).all()
            if fallback_seconds(handler) is not None
        }
        calls = session.exec(
            select(ToolCallRow).where(ToolCallRow.round_id == round_id).order_by(col(ToolCallRow.position))
        ).all()
        used = {call.name: fallbacks[call.name] for call in calls if call.name in fallbacks}
        if not used:
            return None
        handler_draft = Draft.round_id == round_id, col(Draft.mode).in_(HANDLER_DRAFT_MODES)  # not typed ones
        drafts = {d.tool_call_id: d for d in session.exec(select(Draft).where(*handler_draft)).all()}
        todo = [
            CallInput(
                tool_call_id=call.tool_call_id,
                tool_name=call.name,
                args=call.arguments,
                agent_id=row.agent_id,
                task_id=row.task_id,
                round=row.round,
                results={},
                args_text=call.arguments_text,
                args_problem=call.arguments_problem,
            )
            for call in calls
            if call.name in used and not _drafted_by(drafts.get(call.tool_call_id), used[call.name])
        ]
        missing = [call.name for call in calls if call.name not in used and call.tool_call_id not in drafts]
        soonest = min(seconds for handler in used.values() if (seconds := fallback_seconds(handler)) is not None)
        return FallbackPlan(
            round_id=round_id,
            task_id=row.task_id,
            due_at=expires - soonest,
            todo=todo,
            drafted={call: draft for call, draft in drafts.items() if call not in {c.tool_call_id for c in todo}},
            handlers=used,
            missing=missing,
            names={call.tool_call_id: call.name for call in calls},
        )


def fallback_seconds(handler: Handler) -> int | None:
    """The handler's ``fallback_seconds``, or ``None`` when it is no fallback (or its behaviour does not parse)."""
    value = handler.behaviour.get("fallback_seconds")
    try:
        return Behaviour.model_validate({"fallback_seconds": value}).fallback_seconds
    except ValueError:
        return None


def call_answerer(plan: FallbackPlan, tool_call_id: str) -> Answerer:
    """Who a call of the round is marked as answered by: the fallback (with its handler's version) for a tool
    with a fallback, else the handler whose draft covers it."""
    handler = plan.handlers.get(plan.names[tool_call_id])
    if handler is not None:
        return Answerer(kind=AnswererKind.FALLBACK, version=handler.version)
    return plan.drafted[tool_call_id].answerer()


def seconds_until(plan: FallbackPlan) -> float:
    """Seconds from now until the plan is due (0 when it is due already)."""
    return max(plan.due_at - time.time(), 0.0)


def _drafted_by(draft: Draft | None, handler: Handler) -> bool:
    """True when ``draft`` is this very handler version's answer (reused rather than run again)."""
    return (
        draft is not None
        and draft.answered_kind.value == handler.kind.value
        and draft.answered_version == handler.version
    )
