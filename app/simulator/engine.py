"""The run engine: plays scenarios as the platform would (contract, "The flow").

State machine of one task (``sequence`` grows by one at each arrow)::

    queued (1) → running (2) → awaiting_tool_calls round 1 (3)
        → tool responses → running → awaiting round 2 … | completed | failed
    awaiting → expired (timer, after round_ttl s)     any non-terminal → cancelled

Each state change is stored (``storage.SimStore``, one transaction) and then
delivered by webhook (``delivery.Deliverer``). Moves between queued, running and
awaiting happen in the background, ``step_delay`` seconds apart, so
``start_run`` and ``send_tool_responses`` answer at once. After a restart on the
same store, ``resume()`` goes on where the runs were: queued deliveries are sent,
run progress continues, and a round whose deadline passed meanwhile expires.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence
from dataclasses import fields
from datetime import UTC, datetime

import httpx

from app.protocol import (
    AWAITING,
    AgentSpec,
    RunError,
    RunStarted,
    RunStatus,
    StartRun,
    StartRunWithExpiry,
    ToolResponses,
)
from app.simulator.delivery import Deliverer, DeliveryAttempt
from app.simulator.faults import FaultState
from app.simulator.progress import RunProgress, Task, iso
from app.simulator.refusals import SimulatorError, check_results_match, fingerprint_body, replayed_reply
from app.simulator.scenario import Scenario
from app.simulator.storage import SimStore, StoredRun, open_store
from app.simulator.timing import RoundTiming
from app.states import TERMINAL_STATUSES, RunStatusName


class Simulator(RunProgress):
    """A simulated platform: agents from scenarios, runs, rounds and signed webhook deliveries.

    ``round_ttl``, ``retry_schedule`` and ``step_delay`` are in seconds. ``store`` keeps the runs (``open_store``);
    without one they are kept in an in-memory database, gone with the process. The simulator owns the store and
    closes it in ``aclose()``. ``received`` lists every accepted ``send_tool_responses`` as ``(task_id, body)``;
    ``attempts`` every webhook POST attempt of this process. Call ``resume()`` once at start to go on with the
    stored runs, and ``aclose()`` to stop the background tasks (deliveries, timers, run progress). Raises
    ``ValueError`` when ``secret`` is not ``whsec_<base64>``. Needs no running event loop to construct; the
    methods run on one.
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
        store: SimStore | None = None,
    ) -> None:
        self.api_key = api_key
        self.round_ttl = round_ttl
        self.step_delay = step_delay
        self.unavailable_tool_responses = 0
        """Fault injection: while above 0, each ``send_tool_responses`` answers 503 ``unavailable`` and counts down."""
        self._scenarios = {scenario.agent_id: scenario for scenario in scenarios}
        self._store = store if store is not None else open_store()
        self._tasks = {}  # open tasks, and terminal ones read since
        self._next_task_id = max(first_task_id, self._store.highest_task_id() + 1)
        self._background: set[asyncio.Task[None]] = set()
        self.faults = FaultState()
        """Faults made on purpose (``app.simulator.faults``): webhook duplicates, reorders, delays, drops; 503s."""
        self.timing = RoundTiming()
        """When each round's delivery went out and when its tool responses were accepted (``app.simulator.timing``)."""
        self._deliverer = Deliverer(
            url=webhook_url, secret=secret, http=http, retry_schedule=retry_schedule, spawn=self._spawn,
            faults=self.faults,
            on_settled=self._store.settle_delivery, on_sending=self.timing.sending,
        )  # fmt: skip

    def use_secret(self, secret: str) -> None:
        """Sign later delivery attempts, retries included, with ``secret`` (``ValueError`` unless whsec_<base64>)."""
        self._deliverer.use_secret(secret)

    @property
    def received(self) -> list[tuple[int, ToolResponses]]:
        """Every accepted ``send_tool_responses`` as ``(task_id, body)``, oldest first, before a restart too."""
        return self._store.tool_responses()

    @property
    def attempts(self) -> list[DeliveryAttempt]:
        """Every webhook POST attempt so far, oldest first."""
        return self._deliverer.attempts

    @property
    def webhook_disabled(self) -> bool:
        """True once the receiver answered 410 (contract: "A 410 answer disables the endpoint")."""
        return self._deliverer.disabled

    def resume(self) -> None:
        """Go on with the stored runs, on the running loop, before requests arrive: send the deliveries queued
        before the stop (same ``webhook-id``), move queued and running tasks on, restart expiry timers, and expire
        at once a round whose ``expires_at`` passed while the simulator was down (contract: "after it the
        platform moves the task to expired")."""
        for webhook_id, status in self._store.queued_deliveries():
            self._deliverer.enqueue(status, webhook_id=webhook_id)
        for stored in self._store.open_runs():
            if stored.status.task_id in self._tasks:
                continue  # already going on in this process
            task = self._remember(stored)
            if task.status.status == RunStatusName.QUEUED:
                task.worker = self._spawn(self._begin(task))
            elif task.status.status == RunStatusName.RUNNING:
                task.worker = self._spawn(self._fail_later(task) if task.failure else self._continue_later(task))
            elif task.status.status == AWAITING:
                if time.time() >= task.deadline:
                    self._expire(task)
                else:
                    task.worker = self._spawn(self._expire_later(task, task.status.round or 0))

    async def aclose(self) -> None:
        """Cancel every background task, wait for them to finish, and close the store."""
        tasks = list(self._background)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        self._store.close()

    def list_agents(self) -> list[AgentSpec]:
        """``GET /v1/agents``: one entry per scenario."""
        return [scenario.to_agent_spec() for scenario in self._scenarios.values()]

    async def start_run(self, agent_id: str, body: StartRun) -> RunStarted:
        """Create a queued task and start it in the background; raises 404 ``not_found``, 503 ``unavailable``
        when it cannot be stored."""
        scenario = self._scenarios.get(agent_id)
        if scenario is None:
            raise SimulatorError(404, "not_found", f"no agent {agent_id}: GET /v1/agents lists the agents")
        task_id = self._next_task_id
        self._next_task_id += 1
        now = iso(datetime.now(UTC))
        status = RunStatus(
            agent_id=agent_id, task_id=task_id, status=RunStatusName.QUEUED, sequence=1,
            environment=body.environment, created_at=now, updated_at=now,
        )  # fmt: skip
        task = Task(
            status=status, inputs=scenario.initial_inputs(body.string_inputs), outputs={}, errors={}, next_step=0,
            calls={}, used_ids=set(), deadline=0.0, failure=None, scenario=scenario,
            round_ttl=body.round_ttl if isinstance(body, StartRunWithExpiry) else None,
        )  # fmt: skip
        self._tasks[task_id] = task
        self._record(task)
        task.worker = self._spawn(self._begin(task))
        return RunStarted(agent_id=agent_id, task_id=task_id, status=RunStatusName.QUEUED)

    def get_status(self, agent_id: str, task_id: int) -> RunStatus:
        """The task's current status; raises 404 ``not_found``. A round past its deadline is expired first."""
        task = self._task(agent_id, task_id)
        self._expire_if_late(task)
        return task.status.model_copy(deep=True)

    async def send_tool_responses(
        self, agent_id: str, task_id: int, body: ToolResponses, idempotency_key: str | None
    ) -> RunStatus:
        """Accept the results of the open round and return the ``running`` status.

        Raises ``SimulatorError``: 404 ``not_found``; 410 ``expired``; 409
        ``not_awaiting`` (not paused on ``body.round``); 422 ``tool_call_mismatch``
        (ids missing, unexpected or repeated); 422 ``idempotency_key_reused``
        (same key, other body); 503 ``unavailable`` (a simulated outage, or the
        change could not be stored). A repeat with the same key and body returns
        the first reply and changes nothing, after a restart too (contract, "HTTP endpoints").
        """
        if self.unavailable_tool_responses > 0:
            self.unavailable_tool_responses -= 1
            raise SimulatorError(
                503, "unavailable", "the platform is unavailable (a simulated outage): try again later"
            )
        task = self._task(agent_id, task_id)
        fingerprint = fingerprint_body(agent_id, task_id, body)
        if idempotency_key is not None:
            earlier = replayed_reply(idempotency_key, self._store.reply_to(idempotency_key), fingerprint)
            if earlier is not None:
                return earlier
        self._check_open(task, body)
        for result in body.results:
            _tool, spec = task.calls[result.tool_call_id]
            task.outputs[spec.as_] = result.output
            task.errors[spec.as_] = result.is_error
        failed = [(task.calls[r.tool_call_id][0], r.output) for r in body.results if r.is_error]
        task.calls, task.deadline = {}, 0.0
        self._stop_worker(task)
        if task.scenario is not None and task.scenario.on_error == "fail" and failed:
            tool, output = failed[0]
            task.failure = RunError(code="tool_error", message=f"{tool} failed: {output}")
        key = (idempotency_key, fingerprint) if idempotency_key is not None else None
        reply = self._change(task, RunStatusName.RUNNING, responses=body, key=key)
        self.timing.acknowledged(task_id, body.round)
        task.worker = self._spawn(self._fail_later(task) if task.failure else self._continue_later(task))
        return reply.model_copy(deep=True)

    async def cancel(self, agent_id: str, task_id: int) -> RunStatus:
        """Cancel a non-terminal task; raises 404 ``not_found``, 409 ``already_terminal``."""
        task = self._task(agent_id, task_id)
        self._expire_if_late(task)
        if task.status.status in TERMINAL_STATUSES:
            raise SimulatorError(
                409, "already_terminal", f"task {task_id} is already {task.status.status}: nothing to cancel"
            )
        self._stop_worker(task)
        task.calls, task.deadline, task.failure = {}, 0.0, None
        return self._change(task, RunStatusName.CANCELLED).model_copy(deep=True)

    def _task(self, agent_id: str, task_id: int) -> Task:
        task = self._tasks.get(task_id)
        if task is None and (stored := self._store.load(task_id)) is not None:
            task = self._remember(stored)
        if task is None or task.status.agent_id != agent_id:
            raise SimulatorError(404, "not_found", f"no task {task_id} for agent {agent_id}: check both ids")
        return task

    def _remember(self, stored: StoredRun) -> Task:
        """Keep a stored task in memory, with its agent's scenario."""
        task = Task(
            **{f.name: getattr(stored, f.name) for f in fields(StoredRun)},
            scenario=self._scenarios.get(stored.status.agent_id),
        )
        self._tasks[stored.status.task_id] = task
        return task

    def _check_open(self, task: Task, body: ToolResponses) -> None:
        """Raise unless ``body`` answers exactly the open round (410, 409 or 422)."""
        self._expire_if_late(task)
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

    def _expire_if_late(self, task: Task) -> None:
        if task.status.status == AWAITING and time.time() >= task.deadline:
            self._stop_worker(task)
            self._expire(task)
