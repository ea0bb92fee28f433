"""Storing one batch of deliveries inside the transaction ``app.services.ingest.ingest_batch`` holds: under one
savepoint for the batch, its runs read in one statement and its timeline lines written in one, or one savepoint
for each delivery when something of it raised (``store_all``), runs locked in ``task_id`` order; what each request
is answered (``Outcome``, ``Result``)."""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from contextlib import nullcontext
from dataclasses import dataclass
from functools import partial
from typing import Any

from sqlalchemy import Connection

from app.errors import DatabaseUnavailable, DeliveryRefused, RateLimited, TooldeskError
from app.models import Delivery
from app.services import apply
from app.services.events import TimelineBatch, add_event
from app.services.fast_sql import (
    INTEGRITY_ERRORS,
    RETRY_ERRORS,
    UNAVAILABLE_ERRORS,
    Cursor,
    constraint_of,
    insert_row,
    savepoint,
)
from app.services.ingest_check import Received, check_request, refuse_nul, task_id_hint
from app.states import EventKind, Verdict
from app.webhooks.body import PREFIX_BYTES
from app.webhooks.limits import RefusalLimiter
from app.webhooks.secret_set import WebhookSecrets
from app.webhooks.verify import Verified

log = logging.getLogger("tooldesk")

DELIVERIES = Delivery.__table__  # type: ignore[attr-defined]
REPLAY_SIGNATURE = "(signed with the console's secret for the replay; not kept)"
KEPT_HEADERS = ("webhook-id", "webhook-timestamp", "webhook-signature", "content-type", "user-agent", "content-length")
HEADER_VALUE_CHARS = 1_024
"""Characters of a kept header's value stored; a longer value is cut, with its length (``kept_headers``)."""
DATABASE_RETRY_SECONDS = 5
"""``Retry-After`` of a 503 ``database_unavailable`` (as the API's ``app.api.common.DATABASE_RETRY_SECONDS``)."""


@dataclass(frozen=True)
class Outcome:
    """What to answer: ``status_code`` and JSON ``body``; ``task_id`` and the run ``status`` it reports when a
    verified delivery names a run; ``answerable`` when something may answer that run's rounds: a saved handler of
    its agent not in manual mode or with a fallback (read in the delivery's own transaction), or answers of the
    run's own (a replay, the demo's handler set: ``app.services.apply.Applied``). Only then has the responder
    anything to do for a round it opened."""

    status_code: int
    body: Mapping[str, object]
    delivery_id: int
    verdict: Verdict
    task_id: int | None = None
    status: str | None = None
    answerable: bool = False


Result = Outcome | TooldeskError
"""One delivery's result in a batch: its ``Outcome`` (stored), or the error to answer with, nothing stored:
``RateLimited`` (429), or a ``TooldeskError`` (500, ``internal``) when storing it failed unexpectedly."""


def check(
    request: Received, conn: Connection, secret: str | WebhookSecrets, limiter: RefusalLimiter | None, limit: int
) -> Verified | DeliveryRefused | RateLimited:
    checked = check_request(request, secret=secret, limiter=limiter, max_body_bytes=limit)
    if isinstance(checked, Verified) and conn.dialect.name != "sqlite":
        return refuse_nul(checked)
    return checked


def store_all(
    conn: Connection, cursor: Cursor, requests: Sequence[Received], checked: Sequence[object]
) -> list[Result]:
    """Store the batch in ``task_id`` order, so that two consoles storing the same deliveries
    lock their runs in the same order and never wait on each other in a cycle; results in the requests' order.
    Raises ``RETRY_ERRORS`` (the caller rolls the whole batch back and stores it again).

    A batch of two or more verified deliveries is first stored in one go, under one savepoint for the batch
    (``_store_known``): on PostgreSQL each statement is an exchange with the server, and the two of a savepoint
    per delivery were about a fifth of a batch's. Its ``webhook-id``s and its runs are read at the start, one
    statement each, and its timeline lines written at the end in one (``_Batch``). Should anything of it raise (a ``webhook-id`` another console
    stored meanwhile, a run it created, a bug), the batch is rolled back to that savepoint and stored again one
    savepoint per delivery (``_store_alone``), so each delivery's answer is what it would have been alone."""
    answering = {row[0] for row in cursor.execute(_ANSWERING)}
    order = _storing_order(checked)
    if sum(isinstance(check, Verified) for check in checked) >= 2:
        cursor.execute("SAVEPOINT batch")
        try:
            stored, timeline = _stored_ids(cursor, checked), TimelineBatch()
            runs = apply.read_runs(
                conn, cursor, (check.status.task_id for check in checked if isinstance(check, Verified))
            )
            store = partial(_store_known, conn, cursor, answering, stored, _Batch(timeline, runs))
            results = _in_order(requests, checked, order, store)
            timeline.write(cursor)
        except RETRY_ERRORS:
            raise
        except Exception as exc:
            cursor.execute("ROLLBACK TO batch")
            cursor.execute("RELEASE batch")
            log.debug("a batch of %s stored again one delivery at a time: %s", len(requests), exc)
        else:
            cursor.execute("RELEASE batch")
            return results
    return _in_order(requests, checked, order, partial(_store_alone, conn, cursor, answering))


def _in_order(
    requests: Sequence[Received],
    checked: Sequence[object],
    order: Sequence[int],
    store: Callable[[Received, Verified | DeliveryRefused], Result],
) -> list[Result]:
    """``store`` each request in ``order`` (a rate-limited one is its own result); results in the requests' order."""
    results: list[Result | None] = [None] * len(requests)
    for index in order:
        check = checked[index]
        if isinstance(check, RateLimited):
            results[index] = check
            continue
        assert isinstance(check, Verified | DeliveryRefused)
        results[index] = store(requests[index], check)
    return [result for result in results if result is not None]


def _store_known(
    conn: Connection,
    cursor: Cursor,
    answering: set[str],
    stored: set[str],
    batch: _Batch,
    request: Received,
    check: Verified | DeliveryRefused,
) -> Outcome:
    """Store one delivery with no savepoint of its own; raises whatever any statement raises. A ``webhook-id`` in
    ``stored`` (read for the whole batch at once, ``_stored_ids``, and those stored earlier in the batch) goes
    straight to the duplicate's path, as the unique index would have sent it. Its run is read from and left in
    ``batch.runs``, its timeline lines wait in ``batch.timeline`` for the batch's one ``INSERT``."""
    outcome = _store_one(conn, cursor, request, check, answering, stored=stored, batch=batch)
    if isinstance(check, Verified) and outcome.verdict in _INDEXED:
        stored.add(check.webhook_id)
    return outcome


@dataclass(frozen=True)
class _Batch:
    """What the deliveries of a batch stored in one go share: their timeline lines, written together at the end,
    and their runs, read together at the start (``app.services.apply.read_runs``) and kept as each delivery
    leaves them."""

    timeline: TimelineBatch
    runs: dict[int, apply.RunNow | None]


def _stored_ids(cursor: Cursor, checked: Sequence[object]) -> set[str]:
    """Of the batch's verified ``webhook-id``s, those the unique index already holds (one statement). The verdicts
    are compared here, not in SQL: given both, SQLite's planner reads a long list of ids through the index on
    ``verdict``, every applied delivery ever stored (about 40 ids and more, with no statistics)."""
    ids = sorted({check.webhook_id for check in checked if isinstance(check, Verified)})
    query = f"SELECT webhook_id, verdict FROM delivery WHERE webhook_id IN ({', '.join('?' * len(ids))})"
    return {webhook_id for webhook_id, verdict in cursor.execute(query, ids).fetchall() if verdict in _INDEXED}


_INDEXED = (Verdict.APPLIED, Verdict.HISTORY)
"""The verdicts ``uq_delivery_webhook_id`` covers (``app.models.tables.Delivery``)."""


def _store_alone(
    conn: Connection, cursor: Cursor, answering: set[str], request: Received, check: Verified | DeliveryRefused
) -> Result:
    """Store one delivery in a savepoint of its own: when it fails it is answered alone (503 when the database
    cannot be used, 500 for a bug), and its batch-mates are kept."""
    try:
        return _store_one(conn, cursor, request, check, answering)
    except RETRY_ERRORS:
        raise
    except UNAVAILABLE_ERRORS as exc:  # the database's state, not a bug: 503, the platform retries
        log.warning("storing delivery %s failed: %s", request.headers.get("webhook-id", ""), exc)
        said = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        return DatabaseUnavailable(
            f"the console cannot use its database right now ({said}); nothing was kept: send it again",
            retry_after=DATABASE_RETRY_SECONDS,
        )
    except Exception as exc:  # a bug: that delivery is answered 500 (not stored), its batch-mates commit
        webhook_id = request.headers.get("webhook-id", "")
        log.exception("storing delivery %s failed", webhook_id)
        return TooldeskError(
            f"delivery {webhook_id} could not be stored ({type(exc).__name__}); nothing was kept: "
            "send it again, and report this if it persists"
        )


def _storing_order(checked: Sequence[object]) -> list[int]:
    """The indexes of a batch's requests (in their order of arrival) in the order they are stored: by the run
    each locks (refusals and rate-limited requests lock none, first), the deliveries of one run in their order of
    arrival; a later copy of a ``webhook-id`` the batch holds twice goes after every first copy, so that the copy
    that arrived first is the one applied, as one at a time, also when a sender reused a ``webhook-id`` for
    another run (contract, "Webhook delivery": a ``webhook-id`` already stored is a duplicate)."""
    seen: set[str] = set()
    later: set[int] = set()
    for index, check in enumerate(checked):
        if isinstance(check, Verified):
            if check.webhook_id in seen:
                later.add(index)
            seen.add(check.webhook_id)

    def key(index: int) -> tuple[bool, int]:
        check = checked[index]
        return index in later, check.status.task_id if isinstance(check, Verified) else -1

    return sorted(range(len(checked)), key=key)


_ANSWERING = (
    "SELECT DISTINCT agent_id FROM handler WHERE mode != 'manual' OR CAST(behaviour AS TEXT) LIKE '%fallback_seconds%' "
    "UNION SELECT agent_id FROM cassette WHERE playing"
)
"""Agents whose rounds saved handlers may answer (``app.services.responder_store.plan_rounds``) or fall back on
(``app.services.fallback``; a superset: a ``fallback_seconds`` that does not parse counts too), or whose new runs
a cassette plays back (``app.services.playback``)."""


def kept_headers(headers: Mapping[str, str]) -> dict[str, str]:
    """The headers of a request that are stored (``KEPT_HEADERS``, names lowercased), each value cut at
    ``HEADER_VALUE_CHARS`` characters followed by "… (N characters)". A request's headers can total tens of KB
    (uvicorn's limit), and a refused delivery is stored too; verification reads the request's own headers, not
    these."""
    kept = {}
    for key, value in headers.items():
        name = key.lower()
        if name in KEPT_HEADERS:
            kept[name] = (
                value
                if len(value) <= HEADER_VALUE_CHARS
                else f"{value[:HEADER_VALUE_CHARS]}… ({len(value):,} characters)"
            )
    return kept


def _store_one(
    conn: Connection,
    cursor: Cursor,
    request: Received,
    checked: Verified | DeliveryRefused,
    answering: set[str],
    stored: set[str] | None = None,
    batch: _Batch | None = None,
) -> Outcome:
    """Store (and apply) one request inside its own savepoint of the batch's transaction; ``answering``: the agents
    saved handlers may answer (``_ANSWERING``). With ``stored`` (the ``webhook-id``s the unique index holds), no
    savepoint: what raises is the caller's (``_store_known``), a ``webhook-id`` in ``stored`` is a duplicate; with
    ``batch``, its run is read from there and its timeline lines wait there (``_Batch``)."""
    part = partial(savepoint, cursor) if stored is None else nullcontext
    read = request.body
    kept = kept_headers(request.headers)
    if request.replay_of is not None:
        kept["webhook-signature"] = REPLAY_SIGNATURE
    if isinstance(checked, DeliveryRefused):
        with part():
            delivery_id = _store(
                conn,
                cursor,
                received_at=request.received_at,
                webhook_id=kept.get("webhook-id") or None,
                headers=kept,
                body=read.data[:PREFIX_BYTES],
                body_length=read.length,
                body_sha256=read.sha256 if read.length else None,
                body_truncated=not read.complete,
                verdict=checked.verdict,
                message=checked.message,
                answered_status=checked.status,
                task_id=task_id_hint(read.data) if read.complete else None,
                replay_of=request.replay_of,
                console_made=request.console_made,
            )
        return Outcome(checked.status, checked.body(), delivery_id, checked.verdict)

    status = checked.status
    console_made = request.console_made
    common: dict[str, Any] = dict(
        received_at=request.received_at,
        webhook_id=checked.webhook_id,
        headers=kept,
        body=read.data,
        body_length=read.length,
        body_sha256=read.sha256,
        body_truncated=False,
        task_id=status.task_id,
        sequence=status.sequence,
        status=status.status,
        answered_status=200,
        replay_of=request.replay_of,
        console_made=console_made,
    )
    written: list[int] = []

    def store(verdict: Verdict, summary: str) -> int:
        # the partial unique index on webhook_id refuses a duplicate here, before anything is applied
        written.append(_store(conn, cursor, verdict=verdict, message=summary, **common))
        return written[0]

    # a second attempt for another console's new run of the same task_id (below); none for a webhook-id stored
    attempts = 2 if stored is None else 0 if checked.webhook_id in stored else 1
    for attempt in range(attempts):
        written.clear()
        try:
            with part():
                verdict, summary, own_answers = apply.apply_delivery(
                    conn=conn,
                    status=status,
                    delivery_id=None,
                    now=request.received_at,
                    console_made=console_made,
                    store=store,
                    timeline=None if batch is None else batch.timeline,
                    runs=None if batch is None else batch.runs,
                )
            [delivery_id] = written
            return Outcome(
                200,
                _ANSWERS[verdict],
                delivery_id,
                verdict,
                status.task_id,
                status.status,
                own_answers or status.agent_id in answering,
            )
        except INTEGRITY_ERRORS as exc:
            if stored is not None:
                raise  # stored again one savepoint per delivery (``store_all``)
            if "webhook_id" in str(exc):
                break  # a repeated webhook-id: stored as a duplicate below
            if attempt or constraint_of(exc) != "run_pkey":
                raise  # a bug, not a duplicate to swallow
            # PostgreSQL: another console created this run meanwhile; applied again, on its run (locked now)
    message = f"webhook-id {checked.webhook_id} was already stored: recorded, not applied again"
    with part():
        first = cursor.execute(_FIRST_OF_ID, (checked.webhook_id,)).fetchone()
        common["body"] = read.data[:PREFIX_BYTES]  # never applied: its first 4 KB, length and SHA-256 say enough
        if first is not None and first[1] == read.sha256:  # the same bytes again: kept once, with the first
            message = (
                f"webhook-id {checked.webhook_id} was already stored (delivery {first[0]}, the same body, kept "
                "there): recorded, not applied again"
            )
        elif first is not None:  # a sender that changed the body of a message it had sent: worth seeing
            message = (
                f"webhook-id {checked.webhook_id} was already stored (delivery {first[0]}) with another body: "
                "recorded, not applied again; this body's first 4 KB, length and SHA-256 are kept"
            )
        delivery_id = _store(conn, cursor, verdict=Verdict.DUPLICATE, message=message, **common)
        summary = f"duplicate delivery of sequence {status.sequence} ({status.status}) ignored"
        # a timeline line needs its run (event.task_id's key): a webhook-id repeated with another task's body has none
        if _run_stored(cursor, status.task_id, batch):
            add_event(
                db=cursor if batch is None else batch.timeline,
                task_id=status.task_id,
                kind=EventKind.DUPLICATE,
                summary=summary,
                at=request.received_at,
                delivery_id=delivery_id,
                console_made=console_made,
            )
    return Outcome(200, _ANSWERS[Verdict.DUPLICATE], delivery_id, Verdict.DUPLICATE, status.task_id, status.status)


def _run_stored(cursor: Cursor, task_id: int, batch: _Batch | None) -> bool:
    if batch is not None and task_id in batch.runs:
        return batch.runs[task_id] is not None
    return cursor.execute("SELECT 1 FROM run WHERE task_id = ?", (task_id,)).fetchone() is not None


_FIRST_OF_ID = "SELECT id, body_sha256 FROM delivery WHERE webhook_id = ? AND verdict IN ('applied', 'history')"
"""The delivery a ``webhook-id`` was first stored with (the partial unique index's rows). A repeat of it keeps only
its body's first ``PREFIX_BYTES`` (as a refused delivery does) and its length and SHA-256, whether the body is the
same (then the first holds it) or not (the message says so): a captured delivery sent again and again within its
timestamp's tolerance, or a sender that re-renders a message's body on each retry, would otherwise store a whole
body (up to ``TOOLDESK_MAX_BODY_BYTES``) each time, and verified deliveries are never removed."""

_ANSWERS: dict[str, Mapping[str, object]] = {
    verdict: {"ok": True, "verdict": verdict} for verdict in (Verdict.APPLIED, Verdict.HISTORY, Verdict.DUPLICATE)
}


def _store(conn: Connection, cursor: Cursor, **values: Any) -> int:
    return insert_row(cursor, conn.dialect, DELIVERIES, values)
