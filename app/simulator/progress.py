"""How a simulated run moves on by itself: the background steps between a run's states, and recording each change.

``RunProgress`` is the part of ``Simulator`` (``engine``) that is not a request: after ``step_delay`` seconds a
queued run starts running, a running one opens its next round (its ``when`` decides), completes or fails, and a
round not answered within ``round_ttl`` seconds expires. Every change gets the next ``sequence``, is stored with
its delivery in one transaction (``storage``), then queued for the webhook (``delivery``).
"""

from __future__ import annotations

import asyncio
import secrets
import time
from collections.abc import Coroutine
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy.exc import SQLAlchemyError

from app.protocol import AWAITING, RunError, RunStatus, ToolCall, ToolResponses
from app.simulator.delivery import Deliverer, new_webhook_id
from app.simulator.refusals import SimulatorError
from app.simulator.scenario import Scenario, ScenarioError
from app.simulator.storage import SimStore, StoredRun
from app.states import TERMINAL_STATUSES, RunStatusName


@dataclass
class Task(StoredRun):
    """A task in memory: what is stored, its agent's scenario, and the background step it waits in."""

    scenario: Scenario | None = None  # None: the agent's scenario is no longer loaded
    round_ttl: float | None = None  # this run's own round expiry (``StartRunWithExpiry``), in memory only
    worker: asyncio.Task[None] | None = field(default=None, repr=False)

    def context(self) -> dict[str, Any]:
        return {"inputs": self.inputs, "outputs": self.outputs, "errors": self.errors}


class RunProgress:
    """State and background steps shared with ``Simulator``, which sets every attribute below."""

    round_ttl: float
    step_delay: float
    _scenarios: dict[str, Scenario]
    _store: SimStore
    _tasks: dict[int, Task]
    _background: set[asyncio.Task[None]]
    _deliverer: Deliverer

    async def _begin(self, task: Task) -> None:
        await asyncio.sleep(self.step_delay)
        self._change(task, RunStatusName.RUNNING)
        await self._continue_later(task)

    async def _continue_later(self, task: Task) -> None:
        await asyncio.sleep(self.step_delay)
        try:
            self._advance(task)
        except ScenarioError as exc:
            task.calls, task.deadline = {}, 0.0
            self._change(task, RunStatusName.FAILED, error=RunError(code="scenario_error", message=str(exc)))

    async def _fail_later(self, task: Task) -> None:
        await asyncio.sleep(self.step_delay)
        error, task.failure = task.failure, None
        self._change(task, RunStatusName.FAILED, error=error)

    def _advance(self, task: Task) -> None:
        """Open the next round whose ``when`` holds, or complete the run with its result."""
        scenario, context = task.scenario, task.context()
        if scenario is None:
            raise ScenarioError(f"agent {task.status.agent_id} is no longer among the simulator's scenarios")
        while task.next_step < len(scenario.steps):
            index = task.next_step
            task.next_step += 1
            if not scenario.step_applies(index, context):
                continue
            calls: list[ToolCall] = []
            for spec in scenario.steps[index].calls:
                call_id = self._new_call_id(task)
                arguments = scenario.render_arguments(index, spec, context)  # an object, or text that may not parse
                calls.append(ToolCall.model_validate({"id": call_id, "name": spec.tool, "arguments": arguments}))
                task.calls[call_id] = (spec.tool, spec)
            task.deadline = time.time() + (task.round_ttl or self.round_ttl)
            expires_at = iso(datetime.fromtimestamp(task.deadline, UTC))
            round_number = (task.status.round or 0) + 1
            self._change(task, AWAITING, round=round_number, tool_calls=calls, expires_at=expires_at)
            task.worker = self._spawn(self._expire_later(task, round_number))
            return
        self._change(task, RunStatusName.COMPLETED, result=scenario.render_result(context))

    async def _expire_later(self, task: Task, round_number: int) -> None:
        await asyncio.sleep(max(0.0, task.deadline - time.time()))
        if task.status.status == AWAITING and task.status.round == round_number:
            self._expire(task)

    def _expire(self, task: Task) -> None:
        round_number, expires_at = task.status.round, task.status.expires_at
        task.calls, task.deadline = {}, 0.0
        ttl = task.round_ttl or self.round_ttl
        message = f"round {round_number} was not answered before {expires_at} ({ttl:g} s): start a new run"
        self._change(
            task, RunStatusName.EXPIRED, expires_at=expires_at, error=RunError(code="expired", message=message)
        )

    def _change(
        self, task: Task, status: str, *, responses: ToolResponses | None = None,
        key: tuple[str, str] | None = None, **fields: Any,
    ) -> RunStatus:  # fmt: skip
        """Record a state change (next sequence, fresh ``updated_at``), store it and queue its webhook."""
        previous = task.status
        task.status = RunStatus(
            agent_id=previous.agent_id, task_id=previous.task_id, status=status, sequence=previous.sequence + 1,
            environment=previous.environment, created_at=previous.created_at, updated_at=iso(datetime.now(UTC)),
            **{"round": previous.round, **fields},
        )  # fmt: skip
        self._record(task, responses=responses, key=key)
        if status in TERMINAL_STATUSES:
            self._tasks.pop(task.status.task_id, None)  # read from the store again if asked
        return task.status

    def _record(
        self, task: Task, *, responses: ToolResponses | None = None, key: tuple[str, str] | None = None
    ) -> None:
        """Store the task with its status as a delivery (and ``responses``, ``key``), then queue the delivery.
        Raises 503 ``unavailable`` when the store refuses; the task in memory is dropped, to be read again."""
        webhook_id = new_webhook_id()
        try:
            self._store.save(task, delivery=webhook_id, responses=responses, key=key)
        except SQLAlchemyError as exc:
            self._tasks.pop(task.status.task_id, None)
            self._stop_worker(task)
            reason = getattr(exc, "orig", None) or exc
            raise SimulatorError(
                503, "unavailable", f"the simulator could not store task {task.status.task_id} ({reason}): try again"
            ) from None
        self._deliverer.enqueue(task.status, webhook_id=webhook_id)

    def _stop_worker(self, task: Task) -> None:
        if task.worker is not None and task.worker is not asyncio.current_task():
            task.worker.cancel()
        task.worker = None

    def _new_call_id(self, task: Task) -> str:
        while (call_id := f"call_{secrets.token_hex(4)}") in task.used_ids:
            pass
        task.used_ids.add(call_id)
        return call_id

    def _spawn(self, coroutine: Coroutine[Any, Any, None]) -> asyncio.Task[None]:
        task = asyncio.get_running_loop().create_task(coroutine)
        self._background.add(task)
        task.add_done_callback(self._background.discard)
        return task


def iso(moment: datetime) -> str:
    """ISO-8601 UTC with a ``Z``, to the second: ``2026-11-29T17:10:00Z``."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
