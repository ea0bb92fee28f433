"""Builders for test data: run statuses, signed deliveries, waiting on conditions."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

from standardwebhooks.webhooks import Webhook

SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
AGENT_ID = "5f0c6b2e-8a4d-4c1e-9a57-2b3f3c4d5e6f"


def make_status(
    task_id: int = 1042,
    *,
    status: str = "awaiting_tool_calls",
    sequence: int = 3,
    round: int | None = 1,
    tool_calls: list[dict[str, Any]] | None = None,
    **extra: Any,
) -> dict[str, Any]:
    """A run status body (contract, AgentGraphRunStatusResponse)."""
    body: dict[str, Any] = {
        "agent_id": AGENT_ID,
        "task_id": task_id,
        "status": status,
        "sequence": sequence,
        "round": round if status == "awaiting_tool_calls" else None,
        "result": None,
        "error": None,
        "environment": "playground",
    }
    if status == "awaiting_tool_calls":
        body["tool_calls"] = (
            tool_calls
            if tool_calls is not None
            else [{"id": "call_1", "name": "get_current_time", "arguments": {"timezone": "UTC"}}]
        )
    body.update(extra)
    return body


def sign(body: bytes, *, msg_id: str, timestamp: float | None = None, secret: str = SECRET) -> dict[str, str]:
    """Standard Webhooks headers for ``body`` (signed over its exact bytes)."""
    when = time.time() if timestamp is None else timestamp
    signature = Webhook(secret).sign(msg_id, datetime.fromtimestamp(when, tz=UTC), body.decode("utf-8", "replace"))
    return {
        "webhook-id": msg_id,
        "webhook-timestamp": str(int(when)),
        "webhook-signature": signature,
        "content-type": "application/json",
    }


def encode(body: dict[str, Any]) -> bytes:
    return json.dumps(body).encode()


async def wait_for(condition: Callable[[], Awaitable[Any] | Any], *, within: float = 5.0) -> Any:
    """Poll ``condition`` until it returns something truthy; fail after ``within`` seconds."""
    deadline = time.monotonic() + within
    while True:
        value = condition()
        if asyncio.iscoroutine(value):
            value = await value
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {within} s")
        await asyncio.sleep(0.02)


def take_errors(caplog: Any) -> list[str]:
    """The ERROR log messages a test caused so far (first line of each), cleared, so a page that fails fails the
    test itself and not the ``user`` fixture's teardown (which would also break the next test's start)."""
    import logging

    found = [record.getMessage().splitlines()[0][:200] for record in caplog.records if record.levelno >= logging.ERROR]
    caplog.clear()
    return found
