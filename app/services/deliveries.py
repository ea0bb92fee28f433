"""Deliveries: the webhook requests as received, for the log; and thinning out the refused ones.

Refused deliveries are kept ``TOOLDESK_REFUSED_RETENTION`` hours and at most ``TOOLDESK_REFUSED_KEEP`` of them;
``Retention`` removes the rest in the background, every ``RETENTION_EVERY`` seconds, never on the webhook's
request path. Verified deliveries (applied, history, duplicate) are never removed.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import logging
import time
from typing import Any

from pydantic import BaseModel, Field, field_validator
from sqlalchemy import Engine, Row, delete, func, or_, select
from sqlalchemy.exc import SQLAlchemyError

from app.db import read_session, write_connection
from app.errors import NotFound
from app.models import Delivery, DeliveryPublic, DeliverySummary, Event
from app.services.body_search import SEARCH_WINDOW, body_holds
from app.services.ingest_store import REPLAY_SIGNATURE
from app.states import REFUSED_VERDICTS, EventKind, Verdict
from app.webhooks.body import body_note

DELIVERIES = Delivery.__table__  # type: ignore[attr-defined]
EVENTS = Event.__table__  # type: ignore[attr-defined]
PREVIEW_BYTES = 200
"""How much of a body the list shows."""
RETENTION_EVERY = 60.0
"""Seconds between two thinnings of the refused deliveries."""
_BATCH = 500
log = logging.getLogger(__name__)


COUNT_LIMIT = 10_000
"""Matches counted at most: past it the list says "more than 10,000" rather than count a million rows."""
SIGNATURE_HIDDEN = "(hidden: only an admin sees a stored signature)"
"""What a caller below admin sees for a stored ``webhook-signature``."""


def shown_headers(headers: dict[str, str] | None, *, admin: bool) -> dict[str, str]:
    """A delivery's stored ``headers`` as a caller sees them: for anyone but an admin, ``webhook-signature`` reads
    ``SIGNATURE_HIDDEN``. With the body, ``webhook-id`` and ``webhook-timestamp`` a signature is a delivery anyone
    could send again while its timestamp is within the 5 minutes' tolerance (``app.webhooks.verify``); an
    admin's *Copy as curl* signs anew with the secret anyway (case C16), so only admins see it. A replay's
    ``REPLAY_SIGNATURE`` (no signature kept) shows as it is."""
    shown = dict(headers or {})
    if not admin and shown.get("webhook-signature", REPLAY_SIGNATURE) != REPLAY_SIGNATURE:
        shown["webhook-signature"] = SIGNATURE_HIDDEN
    return shown


class DeliveryFilter(BaseModel):
    """What the deliveries list shows: one ``task_id`` (verified, or claimed by a refused body), one ``verdict``,
    ``q``: text the stored body holds (``app.services.body_search``: exact and case-sensitive, also as written
    inside a JSON string; searched in the newest ``SEARCH_WINDOW`` deliveries matching the other filters),
    and a page (``per_page`` up to 500), newest first. ``before``: only deliveries with a smaller id, the
    ``next_before`` of the page before (keyset pagination: the page costs the same however deep it is and does
    not shift while new deliveries arrive); ``page`` then counts on from there (1: the first page after it)."""

    task_id: int | None = Field(default=None, ge=1, le=2**63 - 1)
    verdict: Verdict | None = None
    q: str | None = Field(default=None, max_length=200)
    before: int | None = Field(default=None, ge=1, le=2**63 - 1)
    page: int = Field(default=1, ge=1, le=1_000_000)
    per_page: int = Field(default=50, ge=1, le=500)

    @field_validator("q")
    @classmethod
    def _blank_is_none(cls, q: str | None) -> str | None:
        return q or None


class DeliveryPage(BaseModel):
    """One page of the list. ``total``: the deliveries matching the filter (``before`` aside), counted up to
    ``COUNT_LIMIT``; ``total_exact`` false means there are more than ``total``. ``next_before``: pass it as
    ``before`` for the next (older) page; null on the last page. ``searched_above``: with ``q``, the search
    covered only deliveries with a larger id (the newest ``SEARCH_WINDOW`` matching the other filters); null
    when it covered them all."""

    total: int
    total_exact: bool
    next_before: int | None
    searched_above: int | None = None
    deliveries: list[DeliverySummary]


def list_deliveries(*, engine: Engine, where: DeliveryFilter, admin: bool) -> DeliveryPage:
    """One page of deliveries matching ``where``, newest first (by id: the order they were stored), each with a
    body preview only; and how many match, up to ``COUNT_LIMIT``. Every query reads an index range that starts
    at the page: none grows with the number stored (``bench/cost_curve.py``). A text search (``q``) reads at most
    the newest ``SEARCH_WINDOW`` deliveries matching the other filters, so it is bounded too. ``admin``: whether
    the caller sees stored signatures (``shown_headers``)."""
    conditions: list[Any] = []
    if where.task_id is not None:
        conditions.append(DELIVERIES.c.task_id == where.task_id)
    if where.verdict is not None:
        conditions.append(DELIVERIES.c.verdict == where.verdict)
    searched_above = None
    if where.q is not None:
        with read_session(engine) as session:
            searched_above = (
                session.connection()
                .execute(
                    select(DELIVERIES.c.id)
                    .where(*conditions)
                    .order_by(DELIVERIES.c.id.desc())
                    .offset(SEARCH_WINDOW)
                    .limit(1)
                )
                .scalar()
            )
        if searched_above is not None:
            conditions.append(DELIVERIES.c.id > searched_above)
        conditions.append(body_holds(DELIVERIES.c.body, where.q))
    page_conditions = [*conditions, DELIVERIES.c.id < where.before] if where.before is not None else conditions
    columns = [c for c in DELIVERIES.c if c.name != "body"]
    query = (
        select(*columns, func.substr(DELIVERIES.c.body, 1, PREVIEW_BYTES).label("preview"))
        .add_columns(func.length(DELIVERIES.c.body).label("stored"))
        .where(*page_conditions)
        .order_by(DELIVERIES.c.id.desc())
        .offset((where.page - 1) * where.per_page)
        .limit(where.per_page + 1)  # one more says whether there is a next page
    )
    bounded = select(DELIVERIES.c.id).where(*conditions).limit(COUNT_LIMIT + 1).subquery()
    with read_session(engine) as session:
        conn = session.connection()
        rows = conn.execute(query).all()
        if where.before is None and len(rows) <= where.per_page and (rows or where.page == 1):
            counted = (where.page - 1) * where.per_page + len(rows)  # the last page: the count is known (a search
        else:  # that matches little would otherwise read its whole window twice)
            counted = int(conn.execute(select(func.count()).select_from(bounded)).scalar_one())
    more = len(rows) > where.per_page
    found = [_summary(row, admin=admin) for row in rows[: where.per_page]]
    return DeliveryPage(
        total=min(counted, COUNT_LIMIT),
        total_exact=counted <= COUNT_LIMIT,
        next_before=found[-1].id if more and found else None,
        searched_above=searched_above,
        deliveries=found,
    )


def get_delivery(*, engine: Engine, delivery_id: int, admin: bool) -> DeliveryPublic:
    """One delivery with its stored body (the whole body when verified, the first 4 KB when refused), its
    signature shown to an ``admin`` only (``shown_headers``); raises ``NotFound``."""
    with read_session(engine) as session:
        row = session.get(Delivery, delivery_id)
        if row is None:
            raise NotFound(f"no delivery with id {delivery_id}")
        return delivery_public(row, admin=admin)


def delivery_public(row: Delivery, *, admin: bool) -> DeliveryPublic:
    """The stored row, with ``body`` as text when it is UTF-8 and always as ``body_base64`` (the exact bytes), and
    its headers as ``admin`` or not sees them (``shown_headers``)."""
    try:
        text: str | None = row.body.decode("utf-8")
    except UnicodeDecodeError:
        text = None
    values = row.model_dump(exclude={"body"})
    summary = _summary_values(values, preview=row.body[:PREVIEW_BYTES], stored=len(row.body), admin=admin)
    return DeliveryPublic(**summary, body=text, body_base64=base64.b64encode(row.body).decode())


def _summary(row: Row[Any], *, admin: bool) -> DeliverySummary:
    values = dict(row._mapping)
    preview, stored = values.pop("preview"), values.pop("stored")
    return DeliverySummary(
        **_summary_values(values, preview=bytes(preview or b""), stored=int(stored or 0), admin=admin)
    )


def _summary_values(values: dict[str, Any], *, preview: bytes, stored: int, admin: bool) -> dict[str, Any]:
    truncated = bool(values.get("body_truncated"))
    refused = values["verdict"] in REFUSED_VERDICTS
    return {
        **values,
        "headers": shown_headers(values.get("headers"), admin=admin),
        "console_made": bool(values.get("console_made")),
        "body_truncated": truncated,
        "task_id_claimed": refused and values.get("task_id") is not None,
        "body_preview": preview.decode("utf-8", "replace"),
        "body_stored": stored,
        "body_note": body_note(
            stored=stored, length=values.get("body_length"), truncated=truncated, sha256=values.get("body_sha256")
        ),
    }


def thin_refused_deliveries(*, engine: Engine, older_than: float, keep: int) -> int:
    """Remove refused deliveries received before ``older_than`` (Unix seconds) and those beyond the newest
    ``keep`` refused ones, with the timeline lines older versions linked to them; verified deliveries are never
    touched. Works in transactions of at most 500 rows, so the webhook never waits long for the write lock.
    Returns how many were removed."""
    removed = 0
    refused = DELIVERIES.c.verdict.in_([str(verdict) for verdict in REFUSED_VERDICTS])
    while True:
        with write_connection(engine) as conn:
            newest_dropped = conn.execute(
                select(DELIVERIES.c.id).where(refused).order_by(DELIVERIES.c.id.desc()).offset(keep).limit(1)
            ).scalar()
            old = DELIVERIES.c.received_at < older_than
            stale = old if newest_dropped is None else or_(old, DELIVERIES.c.id <= newest_dropped)
            ids = list(conn.execute(select(DELIVERIES.c.id).where(refused, stale).limit(_BATCH)).scalars())
            if ids:
                conn.execute(delete(DELIVERIES).where(DELIVERIES.c.id.in_(ids)))
                conn.execute(
                    delete(EVENTS).where(EVENTS.c.delivery_id.in_(ids), EVENTS.c.kind == str(EventKind.REFUSED))
                )
        removed += len(ids)
        if len(ids) < _BATCH:
            return removed


class Retention:
    """Runs ``thin_refused_deliveries`` every ``every`` seconds in the background (``start`` / ``aclose``):
    refused deliveries older than ``hours``, and beyond the newest ``keep``, are removed."""

    def __init__(self, *, engine: Engine, hours: float, keep: int, every: float = RETENTION_EVERY) -> None:
        self.engine = engine
        self.hours = hours
        self.keep = keep
        self.every = every
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        """Start the loop (the first thinning at once)."""
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._run(), name="refused retention")

    async def aclose(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def thin(self) -> int:
        """Thin the refused deliveries once; how many were removed."""
        cutoff = time.time() - self.hours * 3600
        return await asyncio.to_thread(
            lambda: thin_refused_deliveries(engine=self.engine, older_than=cutoff, keep=self.keep)
        )

    async def _run(self) -> None:
        while True:
            try:
                removed = await self.thin()
            except SQLAlchemyError as exc:
                log.warning("could not thin refused deliveries: %s", exc)
            else:
                if removed:
                    log.info("removed %d refused deliveries (retention)", removed)
            await asyncio.sleep(self.every)
