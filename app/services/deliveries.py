"""Deliveries: the webhook requests as received, for the log and the run timeline."""

from __future__ import annotations

import base64

from sqlalchemy import Engine
from sqlmodel import col, select

from app.db import read_session
from app.errors import NotFound
from app.models import Delivery, DeliveryPublic


def list_deliveries(
    *, engine: Engine, task_id: int | None = None, verdict: str | None = None, limit: int = 200
) -> list[DeliveryPublic]:
    """Newest first, optionally for one ``task_id`` or one ``verdict``."""
    query = select(Delivery).order_by(col(Delivery.id).desc()).limit(limit)
    if task_id is not None:
        query = query.where(Delivery.task_id == task_id)
    if verdict is not None:
        query = query.where(Delivery.verdict == verdict)
    with read_session(engine) as session:
        return [delivery_public(row) for row in session.exec(query).all()]


def get_delivery(*, engine: Engine, delivery_id: int) -> DeliveryPublic:
    """One delivery with its raw body; raises ``NotFound``."""
    with read_session(engine) as session:
        row = session.get(Delivery, delivery_id)
        if row is None:
            raise NotFound(f"no delivery with id {delivery_id}")
        return delivery_public(row)


def delivery_public(row: Delivery) -> DeliveryPublic:
    """The stored row, with ``body`` as text when it is UTF-8 and always as ``body_base64`` (the exact bytes)."""
    try:
        text: str | None = row.body.decode("utf-8")
    except UnicodeDecodeError:
        text = None
    assert row.id is not None
    return DeliveryPublic(
        id=row.id,
        received_at=row.received_at,
        webhook_id=row.webhook_id,
        headers=row.headers,
        verdict=row.verdict,
        message=row.message,
        answered_status=row.answered_status,
        task_id=row.task_id,
        sequence=row.sequence,
        status=row.status,
        body=text,
        body_base64=base64.b64encode(row.body).decode(),
        replay_of=row.replay_of,
    )
