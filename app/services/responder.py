"""The responder: after a round opens, its handlers answer what they may, off the webhook's request path.

Per agent and tool, a handler's mode decides: *manual* (a person answers),
*suggest* (the handler's answer pre-fills the form for a person to approve or
edit) or *auto* (the handler answers). Drafts are stored per call. When every
call of a round has an *auto* draft, the round submits itself through the
outbox; a round that mixes auto and manual tools waits for the person on the
manual calls only.

The handlers are the saved ones, except for a run the demo started (``Run.handler_set`` is ``demo``): the demo's
own set answers it (``app.services.demo``), all in auto mode, and the saved handlers are not consulted.

Its blocking database work runs on the handlers' pool (``app.pools.in_handlers``), never on the UI's pool or
the webhook's writer; rules and Python handlers run in worker processes. A round answered in auto mode takes one
read and one write (``app.services.responder_store``: the drafts, the claim and the outbox item commit together),
and its submission is sent at once, without waiting for the outbox's loop. A new round whose handlers are all
static (no latency, no faults) is read, answered and stored in one trip to the handlers' pool (``plan_and_store``).
A call no rule matched joins its handler's list of unmatched calls once its round is stored and sent, not before:
that list is for the person editing the rules, not something the platform waits for.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any

from nicegui import background_tasks
from sqlalchemy import Engine

from app.handlers.run import CallAnswer, CallInput, answer_call
from app.handlers.sandbox import Sandbox
from app.models import Handler, OutboxItem
from app.pools import in_handlers
from app.services.fallback import Fallbacks
from app.services.outbox import Outbox
from app.services.playback import draft_own_answers
from app.services.responder_store import RoundWork, plan_and_store, plan_rounds, store_answers, task_results
from app.services.rounds import deliver_unwatched
from app.services.rule_state import StoredMemory
from app.services.unmatched import keep_unmatched
from app.states import HandlerKind

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

    def handle_task(self, task_id: int) -> asyncio.Task[None]:
        """Answer what handlers may in the task's pending rounds (called after each applied delivery), in a
        background task; returns it."""
        return self._start(self._rounds(task_id))

    def sweep(self) -> asyncio.Task[None]:
        """Every pending round, e.g. at start for rounds that arrived while handlers were not running, in a
        background task; returns it."""
        return self._start(self._rounds(None))

    async def _rounds(self, task_id: int | None) -> None:
        if task_id is None:
            for work in await in_handlers(plan_rounds, self._engine, None):
                await self._handle(work)
            return
        for work, stored in await in_handlers(plan_and_store, self._engine, task_id):
            if stored is None:
                await self._handle(work)
            else:  # answered and stored in the planning trip (static handlers: nothing to wait for)
                await self._settle(work.round_id, await self._send(work, stored.item))

    def _start(self, work: Coroutine[Any, Any, None]) -> asyncio.Task[None]:
        """Run ``work`` in a background task that ``idle`` counts from now until the task ends, however it ends
        (a done callback: a task cancelled before its first step, at shutdown, runs no ``finally`` of its own; the
        task closes its coroutine then, so none is left never awaited)."""
        self._working += 1
        self._idle.clear()
        task = background_tasks.create(work, name="handlers")
        task.add_done_callback(self._finished)
        return task

    def _finished(self, _task: asyncio.Task[None]) -> None:
        self._working -= 1
        if self._working == 0:
            self._idle.set()

    async def handle_round(self, round_id: int) -> None:
        """Draft answers for the round's calls that have a suggest or auto handler; submit when all are auto; set
        the round's fallback timer (``app.services.fallback``)."""
        for work in await in_handlers(plan_rounds, self._engine, None, round_id):
            await self._handle(work)

    async def _handle(self, work: RoundWork) -> None:
        if work.round_id in self._busy:
            return
        self._busy.add(work.round_id)
        try:
            claimed = await self._draft(work)
        finally:
            self._busy.discard(work.round_id)
        await self._settle(work.round_id, claimed)

    async def _settle(self, round_id: int, claimed: bool) -> None:
        if claimed:
            self.fallbacks.forget(round_id)  # no longer pending: its timer would find nothing to do
        else:
            await self.fallbacks.schedule(round_id)

    async def _draft(self, work: RoundWork) -> bool:
        """Draft, store and (when all are auto) submit; True when the round was claimed for sending."""
        if work.replay:
            if not await in_handlers(draft_own_answers, self._engine, work.round_id):  # a replay's or a cassette's
                plans = await in_handlers(plan_rounds, self._engine, None, work.round_id, replays=False)
                return any([await self._draft(plan) for plan in plans])
            work = dataclasses.replace(work, replay=False)
        elif not work.todo and not work.ready:
            return False
        answers = list(await asyncio.gather(*(self._answer(work.handlers[call.tool_name], call) for call in work.todo)))
        try:
            return await self._send(work, await in_handlers(store_answers, self._engine, work, answers))
        finally:  # once the round is on its way: the list of unmatched calls is not what the platform waits for
            for call, done in zip(work.todo, answers, strict=True):
                await self._keep_unmatched(work.handlers[call.tool_name], call, done)

    async def _send(self, work: RoundWork, item: OutboxItem | None) -> bool:
        """After ``store_answers``: tell pages, and send the round when it was claimed (``item``); True then."""
        self._on_change(work.task_id)
        if item is None or item.id is None:
            return False
        await deliver_unwatched(
            outbox=self._outbox, item_id=item.id, round_id=work.round_id, what="auto-submitted", item=item
        )
        return True

    async def _answer(self, handler: Handler, call: CallInput) -> CallAnswer:
        sandbox = await self._sandbox() if handler.kind == HandlerKind.PYTHON else None
        return await answer_call(
            kind=handler.kind,
            spec=handler.spec,
            behaviour=handler.behaviour,
            call=call,
            sandbox=sandbox,
            memory=self._memory,
        )

    async def _keep_unmatched(self, handler: Handler, call: CallInput, done: CallAnswer) -> None:
        """Add a call no rule matched to its handler's list of unmatched calls (``app.services.unmatched``)."""
        if done.answer.unmatched and handler.id is not None:  # a saved handler: the demo's set keeps nothing
            try:
                await in_handlers(
                    keep_unmatched,
                    engine=self._engine,
                    handler_id=handler.id,
                    handler_version=handler.version,
                    call=call,
                    answer=done.answer,
                )
            except Exception as exc:  # the list is a convenience: the call is answered all the same
                log.warning("unmatched call %s of run %s not kept: %r", call.tool_call_id, call.task_id, exc)

    def _memory(self, call: CallInput) -> StoredMemory:
        """Rules handlers' counts and the run's state, in the database (``app.services.rule_state``)."""
        return StoredMemory(self._engine, call.agent_id, call.tool_name, call.task_id)

    async def _answer_fallback(self, handler: Handler, call: CallInput) -> CallAnswer:
        results = await in_handlers(task_results, self._engine, call.task_id)
        call = dataclasses.replace(call, results=results)
        done = await self._answer(handler, call)
        await self._keep_unmatched(handler, call, done)
        return done
