"""The responder: after a round opens, its handlers answer what they may, off the webhook's request path.

Per agent and tool, a handler's mode decides: *manual* (a person answers),
*suggest* (the handler's answer pre-fills the form for a person to approve or
edit) or *auto* (the handler answers). Drafts are stored per call. When every
call of a round has an *auto* draft, the round submits itself through the
outbox; a round that mixes auto and manual tools waits for the person on the
manual calls only.

The handlers are the saved ones, except for a run the demo started (``Run.handler_set`` is ``demo``): the demo's
own set answers it (``app.services.demo``), all in auto mode, and the saved handlers are not consulted.

Its blocking database work runs in the handler threads (``app.handlers.threads``), never in the default
executor the webhook stores deliveries with; rules and Python handlers run in worker processes.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import time
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any

from sqlalchemy import Engine
from sqlmodel import Session, col, select

from app.answerers import AUTO, Answerer
from app.db import read_session, write_session
from app.handlers.run import CallAnswer, CallInput, answer_call
from app.handlers.sandbox import Sandbox
from app.handlers.threads import in_handler_thread
from app.models import Draft, Handler, Round, Run, ToolCallRow, ToolResultRow
from app.protocol import ToolResult
from app.services.demo import demo_handlers
from app.services.fallback import Fallbacks
from app.services.outbox import Outbox
from app.services.replay import draft_from_original
from app.services.rounds import submit_unwatched
from app.states import HANDLER_DRAFT_MODES, AnswererKind, DraftMode, HandlerKind, HandlerMode, HandlerSet, RoundState

log = logging.getLogger("tooldesk")


class Responder:
    """Runs handlers for new rounds. ``sandbox`` gives the (lazily started) snippet pool."""

    def __init__(
        self,
        *,
        engine: Engine,
        outbox: Outbox,
        sandbox: Callable[[], Awaitable[Sandbox]],
        on_change: Callable[[int], None],
    ) -> None:
        self._engine = engine
        self._outbox = outbox
        self._sandbox = sandbox
        self._on_change = on_change
        self.fallbacks = Fallbacks(engine=engine, outbox=outbox, answer=self._answer_fallback, on_change=on_change)
        self._busy: set[int] = set()
        self._working = 0
        self._idle = asyncio.Event()
        self._idle.set()

    async def idle(self) -> None:
        """Return once no ``handle_task`` or ``sweep`` is running or waiting to run: work counts from the call
        that creates it, not from when it starts, so a round scheduled for handlers is never missed."""
        await self._idle.wait()

    def handle_task(self, task_id: int) -> Coroutine[Any, Any, None]:
        """Answer what handlers may in the task's pending rounds (called after each applied delivery)."""
        return self._counted(self._rounds(task_id))

    def sweep(self) -> Coroutine[Any, Any, None]:
        """Every pending round, e.g. at start for rounds that arrived while handlers were not running."""
        return self._counted(self._rounds(None))

    async def _rounds(self, task_id: int | None) -> None:
        for round_id in await in_handler_thread(_pending_round_ids, self._engine, task_id):
            await self.handle_round(round_id)

    def _counted(self, work: Coroutine[Any, Any, None]) -> Coroutine[Any, Any, None]:
        self._working += 1
        self._idle.clear()

        async def run() -> None:
            try:
                await work
            finally:
                self._working -= 1
                if self._working == 0:
                    self._idle.set()

        return run()

    async def handle_round(self, round_id: int) -> None:
        """Draft answers for the round's calls that have a suggest or auto handler; submit when all are auto; set
        the round's fallback timer (``app.services.fallback``)."""
        if round_id in self._busy:
            return
        self._busy.add(round_id)
        try:
            await self._draft(round_id)
        finally:
            self._busy.discard(round_id)
        await self.fallbacks.schedule(round_id)

    async def _draft(self, round_id: int) -> None:
        if await in_handler_thread(draft_from_original, self._engine, round_id):
            await self._submit_if_all_auto(round_id)
            return
        work = await in_handler_thread(_work, self._engine, round_id)
        if work is None:
            return
        todo, handlers, handler_set = work
        if todo:
            answers = await asyncio.gather(*(self._answer(handlers[call.tool_name], call) for call in todo))
            await in_handler_thread(_store_drafts, self._engine, round_id, todo, answers, handlers, handler_set)
            self._on_change(todo[0].task_id)
        await self._submit_if_all_auto(round_id)

    async def _answer(self, handler: Handler, call: CallInput) -> CallAnswer:
        sandbox = await self._sandbox() if handler.kind == HandlerKind.PYTHON else None
        return await answer_call(
            kind=handler.kind, spec=handler.spec, behaviour=handler.behaviour, call=call, sandbox=sandbox
        )

    async def _answer_fallback(self, handler: Handler, call: CallInput) -> CallAnswer:
        results = await in_handler_thread(_task_results, self._engine, call.task_id)
        return await self._answer(handler, dataclasses.replace(call, results=results))

    async def _submit_if_all_auto(self, round_id: int) -> None:
        ready = await in_handler_thread(_all_auto, self._engine, round_id)
        if ready is None:
            return
        results, sources, task_id = ready
        answerers = set(sources.values())
        replayed = len(answerers) == 1 and next(iter(answerers)).kind == AnswererKind.REPLAY
        answered_by = next(iter(answerers)) if replayed else AUTO
        await submit_unwatched(
            engine=self._engine,
            outbox=self._outbox,
            round_id=round_id,
            results=results,
            answered_by=answered_by,
            sources=sources,
            what="auto-submitted",
        )
        self._on_change(task_id)


def _pending_round_ids(engine: Engine, task_id: int | None) -> list[int]:
    query = select(Round.id).where(Round.state == RoundState.PENDING).order_by(col(Round.id))
    if task_id is not None:
        query = query.where(Round.task_id == task_id)
    with read_session(engine) as session:
        return [round_id for round_id in session.exec(query).all() if round_id is not None]


def _work(engine: Engine, round_id: int) -> tuple[list[CallInput], dict[str, Handler], HandlerSet] | None:
    """The calls still to draft, the non-manual handlers of the round's agent (the saved ones, or the demo's set
    for a demo run) and which set they are; ``None`` if nothing to do."""
    with read_session(engine) as session:
        row = session.get(Round, round_id)
        if row is None or row.state != RoundState.PENDING:
            return None
        handler_set = _handler_set(session, row.task_id)
        handlers = _handlers(session, row.agent_id, handler_set)
        if not handlers:
            return None
        calls = session.exec(
            select(ToolCallRow).where(ToolCallRow.round_id == round_id).order_by(col(ToolCallRow.position))
        ).all()
        handler_draft = Draft.round_id == round_id, col(Draft.mode).in_(HANDLER_DRAFT_MODES)
        drafted = set(session.exec(select(Draft.tool_call_id).where(*handler_draft)).all())
        results = _earlier_results(session, row.task_id)
        todo = [
            CallInput(
                tool_call_id=c.tool_call_id,
                tool_name=c.name,
                args=c.arguments,
                agent_id=row.agent_id,
                task_id=row.task_id,
                round=row.round,
                results=results,
                args_text=c.arguments_text,
                args_problem=c.arguments_problem,
            )
            for c in calls
            if c.name in handlers and c.tool_call_id not in drafted
        ]
        return todo, handlers, handler_set


def _handler_set(session: Session, task_id: int) -> HandlerSet:
    run = session.get(Run, task_id)
    return run.handler_set if run is not None else HandlerSet.SAVED


def _handlers(session: Session, agent_id: str, handler_set: HandlerSet) -> dict[str, Handler]:
    """The agent's handlers that are not manual, by tool name: the demo's set for a demo run, else the saved ones."""
    if handler_set == HandlerSet.DEMO:
        return demo_handlers(agent_id)
    query = select(Handler).where(Handler.agent_id == agent_id, Handler.mode != HandlerMode.MANUAL)
    return {h.tool_name: h for h in session.exec(query).all()}


def _task_results(engine: Engine, task_id: int) -> dict[str, str]:
    with read_session(engine) as session:
        return _earlier_results(session, task_id)


def _earlier_results(session: Session, task_id: int) -> dict[str, str]:
    """Earlier tool results of the task by tool name (the last one wins)."""
    rows = session.exec(
        select(ToolCallRow.name, ToolResultRow.output)
        .join(Round, col(Round.id) == col(ToolResultRow.round_id))
        .join(
            ToolCallRow,
            (col(ToolCallRow.round_id) == col(ToolResultRow.round_id))
            & (col(ToolCallRow.tool_call_id) == col(ToolResultRow.tool_call_id)),
        )
        .where(Round.task_id == task_id)
        .order_by(col(ToolResultRow.id))
    ).all()
    return dict(rows)


def _store_drafts(
    engine: Engine,
    round_id: int,
    calls: list[CallInput],
    answers: list[CallAnswer],
    handlers: dict[str, Handler],
    handler_set: HandlerSet,
) -> None:
    now = time.time()
    with write_session(engine) as session:
        for call, done in zip(calls, answers, strict=True):
            handler = handlers[call.tool_name]
            answerer = (
                Answerer.from_set(handler.kind, handler_set)
                if handler_set != HandlerSet.SAVED
                else Answerer.handler(handler.kind, handler.version)
            )
            session.add(
                Draft(
                    **answerer.columns(),
                    round_id=round_id,
                    tool_call_id=call.tool_call_id,
                    mode=DraftMode(handler.mode),
                    output=done.answer.output,
                    is_error=done.answer.is_error,
                    note=done.answer.note,
                    logs=done.logs[:20_000],
                    duration_ms=done.duration_ms,
                    created_at=now,
                )
            )


def _all_auto(engine: Engine, round_id: int) -> tuple[list[ToolResult], dict[str, Answerer], int] | None:
    with read_session(engine) as session:
        row = session.get(Round, round_id)
        if row is None or row.state != RoundState.PENDING:
            return None
        calls = dict(
            session.exec(
                select(ToolCallRow.tool_call_id, ToolCallRow.name).where(ToolCallRow.round_id == round_id)
            ).all()
        )
        handler_draft = Draft.round_id == round_id, col(Draft.mode).in_(HANDLER_DRAFT_MODES)
        drafts = {d.tool_call_id: d for d in session.exec(select(Draft).where(*handler_draft)).all()}
        # the handlers' modes now, not when the drafts were made: a switch to auto sends a suggested round, a
        # switch to manual while a handler was still answering keeps the round for a person
        handler_set = _handler_set(session, row.task_id)
        modes: dict[str, HandlerMode] = {
            tool: handler.mode for tool, handler in _handlers(session, row.agent_id, handler_set).items()
        }
        ready = [
            call in drafts and (drafts[call].mode == DraftMode.REPLAY or modes.get(name) == HandlerMode.AUTO)
            for call, name in calls.items()
        ]
        if not calls or not all(ready):
            return None
        results = [
            ToolResult(tool_call_id=call, output=drafts[call].output, is_error=drafts[call].is_error) for call in calls
        ]
        return results, {call: drafts[call].answerer() for call in calls}, row.task_id
