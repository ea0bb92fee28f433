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
from app.errors import DeliveryRefused, NotFound, ReplayRefused
from app.models import Delivery
from app.protocol import INT64_MAX
from app.services.apply import apply_status
from app.services.events import add_event
from app.states import EventKind, Verdict
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
    """What to answer: ``status_code`` and JSON ``body``; ``task_id`` when a run changed."""

    status_code: int
    body: Mapping[str, object]
    delivery_id: int
    verdict: Verdict
    task_id: int | None = None


def ingest_delivery(
    *, engine: Engine, secret: str, body: bytes, headers: Mapping[str, str], replay_of: int | None = None
) -> Outcome:
    """Store one webhook request and apply it when it is new and verified.

    - refused (bad headers, timestamp, signature or body): stored with that
      verdict; the outcome carries the error's 4xx status and message;
    - a ``webhook-id`` already stored: stored as ``duplicate``, answered 200;
    - a ``sequence`` not above the run's newest: stored as ``history``, answered 200;
    - otherwise stored as ``applied`` and the run, round and timeline change.
    """
    received_at = time.time()
    kept = {key.lower(): value for key, value in headers.items() if key.lower() in KEPT_HEADERS}
    if replay_of is not None:
        kept["webhook-signature"] = REPLAY_SIGNATURE
    try:
        verified = verify_delivery(secret=secret, body=body, headers=headers, now=received_at)
    except DeliveryRefused as exc:
        with write_connection(engine) as conn:
            delivery_id = _store(
                conn,
                received_at=received_at,
                webhook_id=kept.get("webhook-id") or None,
                headers=kept,
                body=body[:MAX_BODY_BYTES],
                verdict=exc.verdict,
                message=exc.message,
                answered_status=exc.status,
                task_id=_task_id_hint(body),
                replay_of=replay_of,
            )
            hint = _task_id_hint(body)
            if hint is not None:  # the run's timeline shows the refusal too (an unverified claim: say so)
                summary = f"delivery refused ({exc.verdict}, answered {exc.status}): {exc.message}"
                add_event(
                    db=conn,
                    task_id=hint,
                    kind=EventKind.REFUSED,
                    summary=summary,
                    at=received_at,
                    delivery_id=delivery_id,
                )
        return Outcome(exc.status, exc.body(), delivery_id, exc.verdict)

    status = verified.status
    common: dict[str, Any] = dict(
        received_at=received_at,
        webhook_id=verified.webhook_id,
        headers=kept,
        body=body,
        task_id=status.task_id,
        sequence=status.sequence,
        status=status.status,
        answered_status=200,
        replay_of=replay_of,
    )
    try:
        with write_connection(engine) as conn:
            # the partial unique index on webhook_id refuses a duplicate here, before anything is applied
            delivery_id = _store(conn, verdict=Verdict.APPLIED, message="", **common)
            verdict, summary = apply_status(conn=conn, status=status, delivery_id=delivery_id, now=received_at)
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
        )
    return Outcome(200, {"ok": True, "verdict": Verdict.DUPLICATE}, delivery_id, Verdict.DUPLICATE, status.task_id)


def _store(conn: Connection, **values: Any) -> int:
    return int(conn.execute(_INSERT_DELIVERY, values).scalar_one())


def _task_id_hint(body: bytes) -> int | None:
    """The ``task_id`` of a refused body when it can be read, so the run's log can show the refusal."""
    try:
        value = json.loads(body).get("task_id")
    except (ValueError, AttributeError, RecursionError):
        return None
    return value if type(value) is int and 0 < value <= INT64_MAX else None


def replay_delivery(*, engine: Engine, secret: str, delivery_id: int, body: bytes | None = None) -> Outcome:
    """Send a stored delivery (or an edited ``body``) through ingestion again, as a new delivery.

    It gets a new ``webhook-id`` (``replay-<id>-<random>``, so it is not a duplicate), a fresh timestamp and a
    signature made with the console's own secret; the stored row records ``replay_of``. Its ``sequence``
    decides, as for any delivery, whether it applies or is history. The stored row keeps no signature: the
    console's own would make the log a signing oracle.

    Raises ``NotFound``, and ``ReplayRefused`` (409) for a delivery that was refused (bad headers, timestamp,
    signature or body): its body was never vouched for by the platform, and signing it with the console's secret
    would turn a forgery into an applied status (case C16).
    """
    with write_connection(engine) as conn:
        original = conn.execute(
            select(DELIVERIES.c.body, DELIVERIES.c.verdict).where(DELIVERIES.c.id == delivery_id)
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
    return ingest_delivery(engine=engine, secret=secret, body=raw, headers=headers, replay_of=delivery_id)
