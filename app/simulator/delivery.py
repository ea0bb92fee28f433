"""Signed webhook delivery: one POST per state change, retried, in order per task.

Rules (contract, "Webhook delivery"; Standard Webhooks spec):

- Each state change gets one ``webhook-id`` (``msg_<uuid hex>``), the same on
  every retry of it. Each attempt is signed again with its own
  ``webhook-timestamp`` (Unix seconds) and ``webhook-signature`` (``v1,<base64>``).
- Any non-2xx answer or exception (including no answer within 10 s) is retried
  after ``retry_schedule[i]`` seconds until the schedule is exhausted; then the
  delivery is given up. A 429 or 503 with ``Retry-After`` (whole seconds, RFC 9110 section 10.2.3) waits at least
  that long, up to ``MAX_RETRY_AFTER`` (the console's full queue answers 503 so).
- A 410 answer disables the endpoint: nothing more is sent.
- The deliveries of one task go out one after another; tasks are independent.
- Faults set in ``faults`` (``app.simulator.faults``: duplicate, reorder, delay, drop) bend these rules
  on purpose, as a real platform may: each attempt they change is marked in ``DeliveryAttempt.fault``.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import uuid
from collections.abc import Callable, Coroutine, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal

import httpx
from standardwebhooks import Webhook

from app.protocol import RunStatus
from app.simulator.faults import DeliveryPlan, FaultState

log = logging.getLogger(__name__)

DELIVERY_TIMEOUT = 10.0
"""Seconds the simulator waits for the receiver's answer before it counts as failed."""

MAX_RETRY_AFTER = 60.0
"""The longest ``Retry-After`` honoured, in seconds; a longer one waits this long."""

Outcome = Literal["delivered", "retrying", "gave_up", "disabled"]


@dataclass(frozen=True)
class DeliveryAttempt:
    """One POST to the webhook URL.

    ``status`` and ``sequence`` are those of the run status delivered;
    ``http_status`` is the receiver's answer (``None`` when it raised, then
    ``error`` holds the exception text); ``attempt`` counts from 1.
    """

    webhook_id: str
    task_id: int
    sequence: int
    status: str
    attempt: int
    outcome: Outcome
    http_status: int | None = None
    error: str | None = None
    fault: str | None = None


@dataclass
class _Held:
    """A reordered delivery waiting for the task's next one: it goes out once ``released`` is set."""

    task: asyncio.Task[None]
    previous: asyncio.Task[None] | None
    released: asyncio.Event


def new_webhook_id() -> str:
    """A fresh ``webhook-id``: ``msg_<uuid hex>``."""
    return f"msg_{uuid.uuid4().hex}"


class Deliverer:
    """Sends run statuses to one webhook URL in background tasks it owns.

    ``spawn`` is the owner's way to start a background task (kept in its
    strong-reference set so ``aclose`` can cancel it). ``faults`` is the
    simulator's fault settings (none by default). ``on_settled(webhook_id)``
    is called once a delivery is done with (not when it is cancelled by ``aclose``); ``on_sending(status)``
    just before a delivery's first POST (``app.simulator.timing``).
    """

    def __init__(
        self,
        *,
        url: str,
        secret: str,
        http: httpx.AsyncClient,
        retry_schedule: Sequence[float],
        spawn: Callable[[Coroutine[Any, Any, None]], asyncio.Task[None]],
        faults: FaultState | None = None,
        on_settled: Callable[[str], None] | None = None,
        on_sending: Callable[[RunStatus], None] | None = None,
    ) -> None:
        self.url = url
        self.attempts: list[DeliveryAttempt] = []
        self.disabled = False
        self._webhook = _webhook(secret)
        self._http = http
        self._retry_schedule = tuple(retry_schedule)
        self._spawn = spawn
        self._last: dict[int, asyncio.Task[None]] = {}
        self._held: dict[int, _Held] = {}
        self.faults = faults if faults is not None else FaultState()
        self._on_settled = on_settled
        self._on_sending = on_sending

    def use_secret(self, secret: str) -> None:
        """Sign later attempts with ``secret``; raises ``ValueError`` when it is not ``whsec_<base64>``."""
        self._webhook = _webhook(secret)

    def enqueue(self, status: RunStatus, webhook_id: str | None = None) -> str:
        """Queue ``status`` behind the task's earlier deliveries; returns its ``webhook-id`` at once (``webhook_id``,
        when given: a delivery queued before a restart keeps its id).

        A delivery the fault plan reorders is held until the task's next one has been sent (or its hold ran
        out); that next one takes the held one's place in the queue, and later ones queue behind both.
        """
        webhook_id = webhook_id or new_webhook_id()
        plan = self.faults.plan()
        task_id = status.task_id
        held = self._held.pop(task_id, None)
        overtakes = held if held is not None and not held.released.is_set() else None
        previous = overtakes.previous if overtakes is not None else self._last.get(task_id)
        release = asyncio.Event() if plan.reorder and overtakes is None else None
        task = self._spawn(self._send_after(previous, webhook_id, status, plan, release, overtakes))
        if overtakes is not None:
            self.faults.counts.overtaken += 1
            task = overtakes.task  # the held delivery now goes last
        elif release is not None:
            self.faults.counts.reordered += 1
            self._held[task_id] = _Held(task, previous, release)
        self._last[task_id] = task
        task.add_done_callback(lambda done: self._forget(task_id, done))
        return webhook_id

    def _forget(self, task_id: int, done: asyncio.Task[None]) -> None:
        if self._last.get(task_id) is done:
            del self._last[task_id]
        held = self._held.get(task_id)
        if held is not None and held.task is done:
            del self._held[task_id]

    async def _send_after(
        self,
        previous: asyncio.Task[None] | None,
        webhook_id: str,
        status: RunStatus,
        plan: DeliveryPlan,
        release: asyncio.Event | None,
        overtakes: _Held | None,
    ) -> None:
        try:
            if previous is not None:
                await asyncio.wait([previous])
            fault = None
            if release is not None:
                fault = "reordered"
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(release.wait(), self.faults.delivery.reorder_hold)
                release.set()  # a hold that ran out: the next delivery queues behind this one as usual
            if plan.delay > 0:
                fault = fault or "delayed"
                await asyncio.sleep(plan.delay)
            if self._on_sending is not None:
                self._on_sending(status)
            first = self._send(webhook_id, status, fault=fault, drop=plan.drop)
            if not plan.duplicate:
                await first
            elif plan.concurrent:
                await asyncio.gather(first, self._send(webhook_id, status, fault="duplicate"))
            else:
                await first
                await self._send(webhook_id, status, fault="duplicate")
            if self._on_settled is not None:  # delivered, given up or dropped: not sent again after a restart
                self._on_settled(webhook_id)
        finally:
            if overtakes is not None:
                overtakes.released.set()

    async def _send(self, webhook_id: str, status: RunStatus, *, fault: str | None = None, drop: bool = False) -> None:
        body = json.dumps(status.model_dump(mode="json"), ensure_ascii=False, separators=(",", ":"))
        for attempt in range(1, len(self._retry_schedule) + 2):
            if self.disabled:
                return
            http_status: int | None
            error: str | None
            attempt_fault: str | None
            retry_after = 0.0
            if drop and attempt == 1 and self._retry_schedule:
                http_status, error = None, "dropped before it reached the receiver (a simulated fault)"
                attempt_fault = "dropped"
            else:
                http_status, error, retry_after = await self._post(webhook_id, body)
                attempt_fault = fault
            last = attempt > len(self._retry_schedule)
            outcome: Outcome
            if http_status is not None and 200 <= http_status < 300:
                outcome = "delivered"
            elif http_status == 410:
                outcome = "disabled"
                self.disabled = True
                log.warning("webhook endpoint %s answered 410: deliveries disabled", self.url)
            else:
                outcome = "gave_up" if last else "retrying"
            self.attempts.append(
                DeliveryAttempt(
                    webhook_id, status.task_id, status.sequence, status.status, attempt, outcome, http_status, error,
                    attempt_fault,
                )
            )  # fmt: skip
            if outcome != "retrying":
                if outcome == "gave_up":
                    log.warning(
                        "gave up delivering %s (task %s) after %s attempts", webhook_id, status.task_id, attempt
                    )
                return
            await asyncio.sleep(max(self._retry_schedule[attempt - 1], retry_after))

    async def _post(self, webhook_id: str, body: str) -> tuple[int | None, str | None, float]:
        """One attempt: ``(http status or None, error text or None, Retry-After seconds or 0)``."""
        now = datetime.now(UTC)
        headers = {
            "webhook-id": webhook_id,
            "webhook-timestamp": str(int(now.timestamp())),
            "webhook-signature": self._webhook.sign(webhook_id, now, body),
            "content-type": "application/json",
        }
        try:
            response = await self._http.post(self.url, content=body.encode(), headers=headers, timeout=DELIVERY_TIMEOUT)
        except Exception as exc:  # no answer, refused connection, timeout: all are retried
            return None, f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__, 0.0
        return response.status_code, None, _retry_after(response)


def _retry_after(response: httpx.Response) -> float:
    """A 429's or 503's ``Retry-After`` in seconds (only the delay-seconds form), at most ``MAX_RETRY_AFTER``."""
    value = response.headers.get("retry-after", "").strip()
    if response.status_code not in (429, 503) or not value.isdigit():
        return 0.0
    return min(float(value), MAX_RETRY_AFTER)


def _webhook(secret: str) -> Webhook:
    try:
        return Webhook(secret)
    except Exception as exc:  # binascii.Error, EmptyWebhookSecretError
        raise ValueError(f"webhook secret is not whsec_<base64> ({exc}): copy it from the console") from exc
