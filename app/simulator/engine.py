"""The run engine: plays scenarios as the platform would (contract, "The flow").

State machine of one task (``sequence`` grows by one at each arrow)::

    queued (1) → running (2) → awaiting_tool_calls round 1 (3)
        → tool responses → running → awaiting round 2 … | completed | failed
    awaiting → expired (timer, after round_ttl s)     any non-terminal → cancelled

Each state change is delivered by webhook (``delivery.Deliverer``). Moves
between queued, running and awaiting happen in the background, ``step_delay``
seconds apart, so ``start_run`` and ``send_tool_responses`` answer at once.
"""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import Coroutine, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx

from app.protocol import (
    AWAITING,
    AgentSpec,
    RunError,
    RunStarted,
    RunStatus,
    StartRun,
    ToolCall,
    ToolResponses,
)
from app.simulator.delivery import Deliverer, DeliveryAttempt
from app.simulator.refusals import IdempotencyKeys, SimulatorError, check_results_match, fingerprint_body
from app.simulator.scenario import CallSpec, Scenario, ScenarioError
from app.states import TERMINAL_STATUSES, RunStatusName


@dataclass
class _Task:
    scenario: Scenario
    status: RunStatus
    inputs: dict[str, str]
    outputs: dict[str, str] = field(default_factory=dict)
    errors: dict[str, bool] = field(default_factory=dict)
    next_step: int = 0
    calls: dict[str, tuple[str, CallSpec]] = field(default_factory=dict)  # call id → (tool, spec) of the open round
    used_ids: set[str] = field(default_factory=set)
    deadline: float = 0.0  # loop time the open round expires
    worker: asyncio.Task[None] | None = None

    def context(self) -> dict[str, Any]:
        return {"inputs": self.inputs, "outputs": self.outputs, "errors": self.errors}


class Simulator:
    """An in-memory platform: agents from scenarios, runs, rounds and signed webhook deliveries.

    ``round_ttl``, ``retry_schedule`` and ``step_delay`` are in seconds.
    ``received`` lists every accepted ``send_tool_responses`` as ``(task_id, body)``;
    ``attempts`` every webhook POST attempt. Call ``aclose()`` to stop the
    background tasks (deliveries, timers, run progress). Raises ``ValueError``
    when ``secret`` is not ``whsec_<base64>``. Needs no running event loop to
    construct; the methods run on one.
    """

    def __init__(
        self,
        *,
        scenarios: list[Scenario],
        webhook_url: str,
        secret: str,
        api_key: str,
        http: httpx.AsyncClient,
        round_ttl: float = 600.0,
        retry_schedule: Sequence[float] = (0.5, 1, 2, 5, 10),
        step_delay: float = 0.05,
        first_task_id: int = 1001,
    ) -> None:
        self.api_key = api_key
        self.round_ttl = round_ttl
        self.step_delay = step_delay
        self.received: list[tuple[int, ToolResponses]] = []
        self.unavailable_tool_responses = 0
        """Fault injection: while above 0, each ``send_tool_responses`` answers 503 ``unavailable`` and counts down."""
        self._scenarios = {scenario.agent_id: scenario for scenario in scenarios}
        self._tasks: dict[int, _Task] = {}
        self._next_task_id = first_task_id
        self._idempotency = IdempotencyKeys()
        self._background: set[asyncio.Task[None]] = set()
        self._deliverer = Deliverer(
            url=webhook_url, secret=secret, http=http, retry_schedule=retry_schedule, spawn=self._spawn
        )

    def use_secret(self, secret: str) -> None:
        """Sign later delivery attempts, retries included, with ``secret`` (``ValueError`` unless whsec_<base64>)."""
        self._deliverer.use_secret(secret)

    @property
    def attempts(self) -> list[DeliveryAttempt]:
        """Every webhook POST attempt so far, oldest first."""
        return self._deliverer.attempts

    @property
    def webhook_disabled(self) -> bool:
        """True once the receiver answered 410 (contract: "A 410 answer disables the endpoint")."""
        return self._deliverer.disabled

    async def aclose(self) -> None:
        """Cancel every background task and wait for them to finish."""
        tasks = list(self._background)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    def list_agents(self) -> list[AgentSpec]:
        """``GET /v1/agents``: one entry per scenario."""
        return [scenario.to_agent_spec() for scenario in self._scenarios.values()]

    async def start_run(self, agent_id: str, body: StartRun) -> RunStarted:
        """Create a queued task and start it in the background; raises 404 ``not_found``."""
        scenario = self._scenarios.get(agent_id)
        if scenario is None:
            raise SimulatorError(404, "not_found", f"no agent {agent_id}: GET /v1/agents lists the agents")
        task_id = self._next_task_id
        self._next_task_id += 1
        now = _iso(_utcnow())
        status = RunStatus(
            agent_id=agent_id, task_id=task_id, status=RunStatusName.QUEUED, sequence=1,
            environment=body.environment, created_at=now, updated_at=now,
        )  # fmt: skip
        task = _Task(scenario=scenario, status=status, inputs=scenario.initial_inputs(body.string_inputs))
        self._tasks[task_id] = task
        self._deliverer.enqueue(status)
        task.worker = self._spawn(self._begin(task))
        return RunStarted(agent_id=agent_id, task_id=task_id, status=RunStatusName.QUEUED)

    def get_status(self, agent_id: str, task_id: int) -> RunStatus:
        """The task's current status; raises 404 ``not_found``."""
        return self._task(agent_id, task_id).status.model_copy(deep=True)

    async def send_tool_responses(
        self, agent_id: str, task_id: int, body: ToolResponses, idempotency_key: str | None
    ) -> RunStatus:
        """Accept the results of the open round and return the ``running`` status.

        Raises ``SimulatorError``: 404 ``not_found``; 410 ``expired``; 409
        ``not_awaiting`` (not paused on ``body.round``); 422 ``tool_call_mismatch``
        (ids missing, unexpected or repeated); 422 ``idempotency_key_reused``
        (same key, other body). A repeat with the same key and body returns the
        first reply and changes nothing (contract, "HTTP endpoints").
        """
        if self.unavailable_tool_responses > 0:
            self.unavailable_tool_responses -= 1
            raise SimulatorError(
                503, "unavailable", "the platform is unavailable (a simulated outage): try again later"
            )
        task = self._task(agent_id, task_id)
        fingerprint = fingerprint_body(agent_id, task_id, body)
        if (earlier := self._idempotency.replay(idempotency_key, fingerprint)) is not None:
            return earlier
        self._check_open(task, body)
        self.received.append((task_id, body.model_copy(deep=True)))
        for result in body.results:
            _tool, spec = task.calls[result.tool_call_id]
            task.outputs[spec.as_] = result.output
            task.errors[spec.as_] = result.is_error
        failed = [(task.calls[r.tool_call_id][0], r.output) for r in body.results if r.is_error]
        task.calls = {}
        self._stop_worker(task)
        reply = self._change(task, RunStatusName.RUNNING)
        if task.scenario.on_error == "fail" and failed:
            tool, output = failed[0]
            task.worker = self._spawn(self._fail_later(task, "tool_error", f"{tool} failed: {output}"))
        else:
            task.worker = self._spawn(self._continue_later(task))
        self._idempotency.remember(idempotency_key, fingerprint, reply)
        return reply.model_copy(deep=True)

    async def cancel(self, agent_id: str, task_id: int) -> RunStatus:
        """Cancel a non-terminal task; raises 404 ``not_found``, 409 ``already_terminal``."""
        task = self._task(agent_id, task_id)
        if task.status.status in TERMINAL_STATUSES:
            raise SimulatorError(
                409, "already_terminal", f"task {task_id} is already {task.status.status}: nothing to cancel"
            )
        self._stop_worker(task)
        task.calls = {}
        return self._change(task, RunStatusName.CANCELLED).model_copy(deep=True)

    def _task(self, agent_id: str, task_id: int) -> _Task:
        task = self._tasks.get(task_id)
        if task is None or task.status.agent_id != agent_id:
            raise SimulatorError(404, "not_found", f"no task {task_id} for agent {agent_id}: check both ids")
        return task

    def _check_open(self, task: _Task, body: ToolResponses) -> None:
        """Raise unless ``body`` answers exactly the open round (410, 409 or 422)."""
        if task.status.status == AWAITING and asyncio.get_running_loop().time() >= task.deadline:
            self._stop_worker(task)
            self._expire(task)
        status = task.status
        if status.status == RunStatusName.EXPIRED:
            raise SimulatorError(
                410, "expired", f"task {status.task_id} expired at {status.expires_at}: start a new run"
            )
        if status.status != AWAITING or body.round != status.round:
            where = f"round {status.round}" if status.round is not None else "no round yet"
            raise SimulatorError(
                409, "not_awaiting",
                f"task {status.task_id} is {status.status} ({where}), not awaiting responses for round {body.round}",
            )  # fmt: skip
        check_results_match(status.round, list(task.calls), [result.tool_call_id for result in body.results])

    async def _begin(self, task: _Task) -> None:
        await asyncio.sleep(self.step_delay)
        self._change(task, RunStatusName.RUNNING)
        await self._continue_later(task)

    async def _continue_later(self, task: _Task) -> None:
        await asyncio.sleep(self.step_delay)
        try:
            self._advance(task)
        except ScenarioError as exc:
            self._change(task, RunStatusName.FAILED, error=RunError(code="scenario_error", message=str(exc)))

    async def _fail_later(self, task: _Task, code: str, message: str) -> None:
        await asyncio.sleep(self.step_delay)
        self._change(task, RunStatusName.FAILED, error=RunError(code=code, message=message))

    def _advance(self, task: _Task) -> None:
        """Open the next round whose ``when`` holds, or complete the run with its result."""
        scenario, context = task.scenario, task.context()
        while task.next_step < len(scenario.steps):
            index = task.next_step
            task.next_step += 1
            if not scenario.step_applies(index, context):
                continue
            calls: list[ToolCall] = []
            for spec in scenario.steps[index].calls:
                call_id = self._new_call_id(task)
                arguments = scenario.render_arguments(index, spec, context)
                calls.append(ToolCall.model_validate({"id": call_id, "name": spec.tool, "arguments": arguments}))
                task.calls[call_id] = (spec.tool, spec)
            task.deadline = asyncio.get_running_loop().time() + self.round_ttl
            expires_at = _iso(_utcnow() + timedelta(seconds=self.round_ttl))
            round_number = (task.status.round or 0) + 1
            self._change(task, AWAITING, round=round_number, tool_calls=calls, expires_at=expires_at)
            task.worker = self._spawn(self._expire_later(task, round_number))
            return
        self._change(task, RunStatusName.COMPLETED, result=scenario.render_result(context))

    async def _expire_later(self, task: _Task, round_number: int) -> None:
        await asyncio.sleep(max(0.0, task.deadline - asyncio.get_running_loop().time()))
        if task.status.status == AWAITING and task.status.round == round_number:
            self._expire(task)

    def _expire(self, task: _Task) -> None:
        round_number, expires_at = task.status.round, task.status.expires_at
        task.calls = {}
        message = f"round {round_number} was not answered before {expires_at} ({self.round_ttl:g} s): start a new run"
        self._change(
            task, RunStatusName.EXPIRED, expires_at=expires_at, error=RunError(code="expired", message=message)
        )

    def _change(self, task: _Task, status: str, **fields: Any) -> RunStatus:
        """Record a state change (next sequence, fresh ``updated_at``) and queue its webhook."""
        previous = task.status
        task.status = RunStatus(
            agent_id=previous.agent_id, task_id=previous.task_id, status=status, sequence=previous.sequence + 1,
            environment=previous.environment, created_at=previous.created_at, updated_at=_iso(_utcnow()),
            **{"round": previous.round, **fields},
        )  # fmt: skip
        self._deliverer.enqueue(task.status)
        return task.status

    def _stop_worker(self, task: _Task) -> None:
        if task.worker is not None and task.worker is not asyncio.current_task():
            task.worker.cancel()
        task.worker = None

    def _new_call_id(self, task: _Task) -> str:
        while (call_id := f"call_{secrets.token_hex(4)}") in task.used_ids:
            pass
        task.used_ids.add(call_id)
        return call_id

    def _spawn(self, coroutine: Coroutine[Any, Any, None]) -> asyncio.Task[None]:
        task = asyncio.get_running_loop().create_task(coroutine)
        self._background.add(task)
        task.add_done_callback(self._background.discard)
        return task


def _utcnow() -> datetime:
    return datetime.now(UTC)


def _iso(moment: datetime) -> str:
    """ISO-8601 UTC with a ``Z``, to the second: ``2026-11-29T17:10:00Z``."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
