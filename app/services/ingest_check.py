"""Checking one webhook request before it is stored: verification, the refusal limiter, the 413 message, the
``task_id`` a refused body claims. No database work: the webhook's writer runs it inside the batch."""

from __future__ import annotations

import json
import time
from collections.abc import Mapping
from dataclasses import dataclass, field

from app.errors import BadBody, BodyTooLarge, DeliveryRefused, RateLimited
from app.protocol import INT64_MAX
from app.webhooks.body import ReadBody
from app.webhooks.limits import RefusalLimiter
from app.webhooks.secret_set import WebhookSecrets
from app.webhooks.verify import Verified, verify_delivery


@dataclass(frozen=True)
class Received:
    """One webhook request as read: its ``body`` (``app.webhooks.body.read_body``), ``headers`` (any case),
    ``received_at`` (Unix seconds, when it arrived: the timestamp check uses it, however long it waited) and
    ``source`` address (for the refusal limiter). ``replay_of`` and ``console_made`` mark a replay."""

    body: ReadBody
    headers: Mapping[str, str]
    received_at: float = field(default_factory=time.time)
    source: str = ""
    replay_of: int | None = None
    console_made: bool = False


def check_request(
    request: Received, *, secret: str | WebhookSecrets, limiter: RefusalLimiter | None, max_body_bytes: int
) -> Verified | DeliveryRefused | RateLimited:
    """Verify ``request`` (outside any transaction: no database work). Returns what passed, the refusal to store,
    or ``RateLimited`` when ``limiter`` has no token left for its source (answered 429, nothing stored)."""
    read = request.body
    try:
        if not read.complete:
            raise BodyTooLarge(too_large(read, max_body_bytes))
        return verify_delivery(
            secret=secret,
            body=read.data,
            headers=request.headers,
            now=request.received_at,
            max_body_bytes=max_body_bytes,
        )
    except DeliveryRefused as exc:
        retry_after = None if limiter is None else limiter.take(request.source, now=request.received_at)
        if retry_after is None:
            return exc
        return RateLimited(
            f"too many refused requests from {request.source} (limit {limiter.rate if limiter else 0} a minute); "
            f"this one was refused ({exc.verdict}: {exc.message}) and not stored: retry in {retry_after} s",
            retry_after=retry_after,
        )


def too_large(read: ReadBody, limit: int) -> str:
    """The 413 message for a body not read whole."""
    if read.declared is not None and read.declared > limit and not read.length:
        return (
            f"Content-Length {read.declared:,} is above the limit of {limit:,} bytes: a run status is far smaller "
            "(the body was not read)"
        )
    return (
        f"body is more than {limit:,} bytes (limit {limit:,}): a run status is far smaller "
        f"(reading stopped after {read.length:,} bytes)"
    )


def task_id_hint(body: bytes) -> int | None:
    """The ``task_id`` a refused body claims, when it can be read: stored so the Deliveries page can filter on
    it, marked there as an unverified claim."""
    try:
        value = json.loads(body).get("task_id")
    except (ValueError, AttributeError, RecursionError):
        return None
    return value if type(value) is int and 0 < value <= INT64_MAX else None


def refuse_nul(checked: Verified) -> Verified | BadBody:
    """On PostgreSQL, ``checked`` or a ``BadBody`` (400) when a field stored as text holds U+0000 (JSON
    ``\\u0000``), which PostgreSQL's text cannot hold: the agent id, status, environment, or a tool call's id, name
    or arguments as sent. SQLite stores it; JSON values (arguments, result, error) keep it escaped on both."""
    status = checked.status
    fields = [("agent_id", status.agent_id), ("status", status.status), ("environment", status.environment)]
    for call in status.tool_calls or ():
        fields += [("a tool call's id", call.id), ("a tool call's name", call.name)]
        fields += [("a tool call's arguments", call.arguments_text)]
    for name, value in fields:
        if value is not None and "\x00" in value:
            return BadBody(
                f"{name} holds the character U+0000, which this console's database (PostgreSQL) cannot store as "
                "text: the delivery is refused, nothing of it applied"
            )
    return checked
