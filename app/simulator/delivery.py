"""Signed webhook delivery: one POST per state change, retried, in order per task.

Rules (contract, "Webhook delivery"; Standard Webhooks spec):

- Each state change gets one ``webhook-id`` (``msg_<uuid hex>``), the same on
  every retry of it. Each attempt is signed again with its own
  ``webhook-timestamp`` (Unix seconds) and ``webhook-signature`` (``v1,<base64>``).
- Any non-2xx answer or exception (including no answer within 10 s) is retried
  after ``retry_schedule[i]`` seconds until the schedule is exhausted; then the
  delivery is given up.
- A 410 answer disables the endpoint: nothing more is sent.
- The deliveries of one task go out one after another; tasks are independent.
"""

from __future__ import annotations

import asyncio
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

log = logging.getLogger(__name__)

DELIVERY_TIMEOUT = 10.0
"""Seconds the simulator waits for the receiver's answer before it counts as failed."""

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


def new_webhook_id() -> str:
    """A fresh ``webhook-id``: ``msg_<uuid hex>``."""
    return f"msg_{uuid.uuid4().hex}"


class Deliverer:
    """Sends run statuses to one webhook URL in background tasks it owns.

    ``spawn`` is the owner's way to start a background task (kept in its
    strong-reference set so ``aclose`` can cancel it). ``on_settled(webhook_id)``
    is called once a delivery is done with (not when it is cancelled by ``aclose``).
    """

    def __init__(
        self,
        *,
        url: str,
        secret: str,
        http: httpx.AsyncClient,
        retry_schedule: Sequence[float],
        spawn: Callable[[Coroutine[Any, Any, None]], asyncio.Task[None]],
        on_settled: Callable[[str], None] | None = None,
    ) -> None:
        self.url = url
        self.attempts: list[DeliveryAttempt] = []
        self.disabled = False
        self._webhook = _webhook(secret)
        self._http = http
        self._retry_schedule = tuple(retry_schedule)
        self._spawn = spawn
        self._last: dict[int, asyncio.Task[None]] = {}
        self._on_settled = on_settled

    def use_secret(self, secret: str) -> None:
        """Sign later attempts with ``secret``; raises ``ValueError`` when it is not ``whsec_<base64>``."""
        self._webhook = _webhook(secret)

    def enqueue(self, status: RunStatus, webhook_id: str | None = None) -> str:
        """Queue ``status`` behind the task's earlier deliveries; returns its ``webhook-id`` at once (``webhook_id``,
        when given: a delivery queued before a restart keeps its id)."""
        webhook_id = webhook_id or new_webhook_id()
        previous = self._last.get(status.task_id)
        task = self._spawn(self._send_after(previous, webhook_id, status))
        self._last[status.task_id] = task
        task.add_done_callback(lambda done: self._forget(status.task_id, done))
        return webhook_id

    def _forget(self, task_id: int, done: asyncio.Task[None]) -> None:
        if self._last.get(task_id) is done:
            del self._last[task_id]

    async def _send_after(self, previous: asyncio.Task[None] | None, webhook_id: str, status: RunStatus) -> None:
        if previous is not None:
            await asyncio.wait([previous])
        await self._send(webhook_id, status)
        if self._on_settled is not None:  # delivered, given up or dropped: not sent again after a restart
            self._on_settled(webhook_id)

    async def _send(self, webhook_id: str, status: RunStatus) -> None:
        body = json.dumps(status.model_dump(mode="json"), ensure_ascii=False, separators=(",", ":"))
        for attempt in range(1, len(self._retry_schedule) + 2):
            if self.disabled:
                return
            http_status, error = await self._post(webhook_id, body)
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
                    webhook_id, status.task_id, status.sequence, status.status, attempt, outcome, http_status, error
                )
            )
            if outcome != "retrying":
                if outcome == "gave_up":
                    log.warning(
                        "gave up delivering %s (task %s) after %s attempts", webhook_id, status.task_id, attempt
                    )
                return
            await asyncio.sleep(self._retry_schedule[attempt - 1])

    async def _post(self, webhook_id: str, body: str) -> tuple[int | None, str | None]:
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
            return None, f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
        return response.status_code, None


def _webhook(secret: str) -> Webhook:
    try:
        return Webhook(secret)
    except Exception as exc:  # binascii.Error, EmptyWebhookSecretError
        raise ValueError(f"webhook secret is not whsec_<base64> ({exc}): copy it from the console") from exc
