"""Ingesting a delivery: verify, store (always), deduplicate, apply by sequence.

Blocking (SQLite); the webhook route calls ``ingest_delivery`` through
``asyncio.to_thread`` and answers with the returned ``Outcome`` only after the
transaction has committed.
"""

from __future__ import annotations

import json
import secrets
import time
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, Engine, bindparam, insert, select, update
from sqlalchemy.exc import IntegrityError
from standardwebhooks.webhooks import Webhook

from app.db import write_connection
from app.errors import BodyTooLarge, DeliveryRefused, NotFound, RateLimited, ReplayRefused
from app.models import Delivery
from app.protocol import INT64_MAX
from app.services.apply import apply_status
from app.services.events import add_event
from app.states import EventKind, Verdict
from app.webhooks.body import PREFIX_BYTES, ReadBody
from app.webhooks.limits import RefusalLimiter
from app.webhooks.secret_set import WebhookSecrets
from app.webhooks.verify import MAX_BODY_BYTES, verify_delivery

DELIVERIES = Delivery.__table__  # type: ignore[attr-defined]
_INSERT_DELIVERY = insert(DELIVERIES).returning(DELIVERIES.c.id)
_SET_VERDICT = update(DELIVERIES).where(DELIVERIES.c.id == bindparam("key"))
REPLAYABLE = (Verdict.APPLIED, Verdict.HISTORY, Verdict.DUPLICATE)
"""Verdicts of deliveries that passed verification, the only ones a replay may sign again."""
REPLAY_SIGNATURE = "(signed with the console's secret for the replay; not kept)"
KEPT_HEADERS = ("webhook-id", "webhook-timestamp", "webhook-signature", "content-type", "user-agent", "content-length")


@dataclass(frozen=True)
class Outcome:
    """What to answer: ``status_code`` and JSON ``body``; ``task_id`` when a verified delivery names a run."""

    status_code: int
    body: Mapping[str, object]
    delivery_id: int
    verdict: Verdict
    task_id: int | None = None


def ingest_delivery(
    *,
    engine: Engine,
    secret: str | WebhookSecrets,
    body: ReadBody | bytes,
    headers: Mapping[str, str],
    replay_of: int | None = None,
    console_made: bool = False,
    limiter: RefusalLimiter | None = None,
    source: str = "",
    max_body_bytes: int = MAX_BODY_BYTES,
) -> Outcome:
    """Store one webhook request and apply it when it is new and verified.

    ``secret`` is one secret or the set a rotation leaves (a signature made with any one still accepted passes);
    ``body`` is what the route read (``app.webhooks.body.read_body``) or whole bytes; ``console_made`` marks a
    replay of an edited body (its row and every timeline line it causes).

    - refused (bad headers, timestamp, signature or body; over ``max_body_bytes``, 413): stored with that
      verdict, its first 4 KB, length and SHA-256 only, and the ``task_id`` its body claims (never put on that
      run's timeline: it is unverified); the outcome carries the error's 4xx status and message;
    - a ``webhook-id`` already stored: stored as ``duplicate``, answered 200;
    - a ``sequence`` not above the run's newest: stored as ``history``, answered 200;
    - otherwise stored as ``applied`` and the run, round and timeline change.

    Raises ``RateLimited`` (429, nothing stored) for a refusal when ``limiter`` has no token left for ``source``.
    """
    received_at = time.time()
    read = body if isinstance(body, ReadBody) else ReadBody.whole(body)
    kept = {key.lower(): value for key, value in headers.items() if key.lower() in KEPT_HEADERS}
    if replay_of is not None:
        kept["webhook-signature"] = REPLAY_SIGNATURE
    try:
        if not read.complete:
            raise BodyTooLarge(_too_large(read, max_body_bytes))
        verified = verify_delivery(
            secret=secret, body=read.data, headers=headers, now=received_at, max_body_bytes=max_body_bytes
        )
    except DeliveryRefused as exc:
        retry_after = None if limiter is None else limiter.take(source, now=received_at)
        if retry_after is not None:
            raise RateLimited(
                f"too many refused requests from {source} (limit {limiter.rate if limiter else 0} a minute); this "
                f"one was refused ({exc.verdict}: {exc.message}) and not stored: retry in {retry_after} s",
                retry_after=retry_after,
            ) from None
        with write_connection(engine) as conn:
            delivery_id = _store(
                conn,
                received_at=received_at,
                webhook_id=kept.get("webhook-id") or None,
                headers=kept,
                body=read.data[:PREFIX_BYTES],
                body_length=read.length,
                body_sha256=read.sha256 if read.length else None,
                body_truncated=not read.complete,
                verdict=exc.verdict,
                message=exc.message,
                answered_status=exc.status,
                task_id=_task_id_hint(read.data) if read.complete else None,
                replay_of=replay_of,
                console_made=console_made,
            )
        return Outcome(exc.status, exc.body(), delivery_id, exc.verdict)

    status = verified.status
    common: dict[str, Any] = dict(
        received_at=received_at,
        webhook_id=verified.webhook_id,
        headers=kept,
        body=read.data,
        body_length=read.length,
        body_sha256=read.sha256,
        body_truncated=False,
        task_id=status.task_id,
        sequence=status.sequence,
        status=status.status,
        answered_status=200,
        replay_of=replay_of,
        console_made=console_made,
    )
    try:
        with write_connection(engine) as conn:
            # the partial unique index on webhook_id refuses a duplicate here, before anything is applied
            delivery_id = _store(conn, verdict=Verdict.APPLIED, message="", **common)
            verdict, summary = apply_status(
                conn=conn, status=status, delivery_id=delivery_id, now=received_at, console_made=console_made
            )
            conn.execute(_SET_VERDICT, {"key": delivery_id, "verdict": verdict, "message": summary})
        return Outcome(200, {"ok": True, "verdict": verdict}, delivery_id, verdict, status.task_id)
    except IntegrityError as exc:
        if "webhook_id" not in str(exc.orig):
            raise  # not a repeated webhook-id: a bug, not a duplicate to swallow
    message = f"webhook-id {verified.webhook_id} was already stored: recorded, not applied again"
    with write_connection(engine) as conn:
        delivery_id = _store(conn, verdict=Verdict.DUPLICATE, message=message, **common)
        summary = f"duplicate delivery of sequence {status.sequence} ({status.status}) ignored"
        add_event(
            db=conn,
            task_id=status.task_id,
            kind=EventKind.DUPLICATE,
            summary=summary,
            at=received_at,
            delivery_id=delivery_id,
            console_made=console_made,
        )
    return Outcome(200, {"ok": True, "verdict": Verdict.DUPLICATE}, delivery_id, Verdict.DUPLICATE, status.task_id)


def _store(conn: Connection, **values: Any) -> int:
    return int(conn.execute(_INSERT_DELIVERY, values).scalar_one())


def _too_large(read: ReadBody, limit: int) -> str:
    if read.declared is not None and read.declared > limit and not read.length:
        return (
            f"Content-Length {read.declared:,} is above the limit of {limit:,} bytes: a run status is far smaller "
            "(the body was not read)"
        )
    return (
        f"body is more than {limit:,} bytes (limit {limit:,}): a run status is far smaller "
        f"(reading stopped after {read.length:,} bytes)"
    )


def _task_id_hint(body: bytes) -> int | None:
    """The ``task_id`` a refused body claims, when it can be read: stored so the Deliveries page can filter on
    it, marked there as an unverified claim."""
    try:
        value = json.loads(body).get("task_id")
    except (ValueError, AttributeError, RecursionError):
        return None
    return value if type(value) is int and 0 < value <= INT64_MAX else None


def replay_delivery(*, engine: Engine, secret: str, delivery_id: int, body: bytes | None = None) -> Outcome:
    """Send a stored delivery (or an edited ``body``) through ingestion again, as a new delivery.

    It gets a new ``webhook-id`` (``replay-<id>-<random>``, so it is not a duplicate), a fresh timestamp and a
    signature made with the console's own secret; the stored row records ``replay_of``. An edited ``body`` is
    made in the console, not sent by the platform: the row is ``console_made`` and so is every timeline line it
    causes (their summaries say so); so is a replay of a ``console_made`` delivery, edited or not. Its ``sequence``
    decides, as for any delivery, whether it applies or is history. The stored row keeps no signature: the
    console's own would make the log a signing oracle.

    Raises ``NotFound``, and ``ReplayRefused`` (409) for a delivery that was refused (bad headers, timestamp,
    signature or body): its body was never vouched for by the platform, and signing it with the console's secret
    would turn a forgery into an applied status (case C16).
    """
    with write_connection(engine) as conn:
        original = conn.execute(
            select(DELIVERIES.c.body, DELIVERIES.c.verdict, DELIVERIES.c.console_made).where(
                DELIVERIES.c.id == delivery_id
            )
        ).first()
    if original is None:
        raise NotFound(f"no delivery with id {delivery_id}")
    if original.verdict not in REPLAYABLE:
        raise ReplayRefused(
            f"delivery {delivery_id} was refused ({original.verdict}): the console does not sign what the "
            "platform's signature did not vouch for; replay an applied, history or duplicate delivery instead"
        )
    raw = body if body is not None else bytes(original.body)
    webhook_id = f"replay-{delivery_id}-{secrets.token_hex(4)}"
    now = datetime.now(UTC)
    signature = Webhook(secret).sign(webhook_id, now, raw.decode("utf-8", "replace"))
    headers = {
        "webhook-id": webhook_id,
        "webhook-timestamp": str(int(now.timestamp())),
        "webhook-signature": signature,
        "content-type": "application/json",
        "user-agent": "tooldesk-replay",
    }
    return ingest_delivery(
        engine=engine,
        secret=secret,
        body=raw,
        headers=headers,
        replay_of=delivery_id,
        console_made=body is not None or bool(original.console_made),
    )
