"""Ingesting deliveries: verify, store (always), deduplicate, apply by sequence, many in one transaction.

Blocking (SQLite or PostgreSQL). The webhook's writer thread (``app.webhooks.writer``) calls ``ingest_batch``
with every delivery waiting at that moment: they are stored and applied in ONE transaction, so one fsync
(``synchronous=FULL``; PostgreSQL's commit) commits them all (group commit), and each request is answered only
after that commit. Each delivery gets the answer it would get alone: the batch is stored in one go under one
``SAVEPOINT``, and when anything of it raises, it is rolled back to it and stored again with a ``SAVEPOINT`` for each
delivery, so a repeated ``webhook-id`` (the unique index refuses it) or an unexpected error rolls back that delivery
alone, never its batch-mates (``app.services.ingest_store.store_all``). ``ingest_delivery`` (replays) is a batch of
one.

On PostgreSQL several consoles may store at once, each with its own writer: the unique index on ``webhook_id`` makes
the second of two copies of one delivery wait for the first's commit and then fail, so it is stored as
``duplicate`` whichever console each copy reached (case C04); two new runs of one task_id created at once likewise
end with the loser's savepoint rolled back and its delivery applied again, on the run the winner created.

Apply stays inside the batch, before the answer: storing and applying a delivery costs about as much as storing it
raw (a few prebuilt Core statements), so acknowledging after the raw store and applying behind the ack would save
little and make the answer's verdict (``applied``, ``history``, ``duplicate``) a guess.
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime

from sqlalchemy import Engine, select
from standardwebhooks.webhooks import Webhook

from app.db import write_connection
from app.errors import DatabaseUnavailable, DeliveryRefused, NotFound, RateLimited, ReplayRefused, TooldeskError
from app.services.fast_sql import RETRY_ERRORS, cursor_of
from app.services.ingest_check import Received as Received  # where the writer and the route take it from
from app.services.ingest_store import DATABASE_RETRY_SECONDS as DATABASE_RETRY_SECONDS
from app.services.ingest_store import DELIVERIES, check, store_all
from app.services.ingest_store import KEPT_HEADERS as KEPT_HEADERS
from app.services.ingest_store import REPLAY_SIGNATURE as REPLAY_SIGNATURE
from app.services.ingest_store import Outcome as Outcome
from app.services.ingest_store import Result as Result
from app.states import Verdict
from app.webhooks.body import ReadBody
from app.webhooks.limits import RefusalLimiter
from app.webhooks.secret_set import WebhookSecrets
from app.webhooks.verify import MAX_BODY_BYTES, Verified

log = logging.getLogger("tooldesk")

REPLAYABLE = (Verdict.APPLIED, Verdict.HISTORY, Verdict.DUPLICATE)
"""Verdicts of deliveries that passed verification, the only ones a replay may sign again."""


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
    """Store one webhook request and apply it when it is new and verified: ``ingest_batch`` of one.

    ``secret`` is one secret or the set a rotation leaves (a signature made with any one still accepted passes);
    ``body`` is what the route read (``app.webhooks.body.read_body``) or whole bytes; ``console_made`` marks a
    replay of an edited body (its row and every timeline line it causes).

    Raises ``RateLimited`` (429, nothing stored) for a refusal when ``limiter`` has no token left for ``source``,
    and ``TooldeskError`` (500) when storing failed unexpectedly (nothing stored).
    """
    read = body if isinstance(body, ReadBody) else ReadBody.whole(body)
    request = Received(body=read, headers=headers, source=source, replay_of=replay_of, console_made=console_made)
    [result] = ingest_batch(
        engine=engine, secret=secret, take=lambda: [request], limiter=limiter, max_body_bytes=max_body_bytes
    )
    if isinstance(result, TooldeskError):
        raise result
    return result


def ingest_batch(
    *,
    engine: Engine,
    secret: str | WebhookSecrets,
    take: Callable[[], Sequence[Received]],
    limiter: RefusalLimiter | None = None,
    max_body_bytes: int = MAX_BODY_BYTES,
) -> list[Result]:
    """Store and apply the requests ``take()`` returns, in one transaction; one ``Result`` each, in order.

    ``take`` is called once the write lock is held (``app.db.write_connection``), so requests that arrived while
    the writer waited for it join this batch. Per request, exactly as for one:

    - refused (bad headers, timestamp, signature or body; over ``max_body_bytes``, 413): stored with that
      verdict, its first 4 KB, length and SHA-256 only, and the ``task_id`` its body claims (never put on that
      run's timeline: it is unverified); the outcome carries the error's 4xx status and message; past the
      ``limiter``'s rate for its ``source``, ``RateLimited`` instead and nothing stored;
    - a ``webhook-id`` already stored (also earlier in this batch): stored as ``duplicate``, answered 200;
    - a ``sequence`` not above the run's newest (also one applied earlier in this batch): ``history``, 200;
    - otherwise stored as ``applied`` and the run, round and timeline change.

    Raises what the commit raises (then nothing of the batch is stored).
    """
    taken: list[Sequence[Received]] = []
    checked: list[Verified | DeliveryRefused | RateLimited] = []
    for attempt in range(BATCH_ATTEMPTS):
        try:
            with write_connection(engine) as conn:
                cursor = cursor_of(conn)
                if conn.dialect.name == "sqlite":  # one transaction around the savepoints (pysqlite opens none)
                    cursor.execute("BEGIN IMMEDIATE")  # psycopg opens one at the first statement
                else:  # a stuck write fails in seconds (503), well within the platform's 10 s
                    cursor.execute(WRITE_TIMEOUTS)
                if not taken:  # the first attempt takes the requests and checks them (once: the limiter counts)
                    taken.append(take())
                    checked.extend(check(request, conn, secret, limiter, max_body_bytes) for request in taken[0])
                return store_all(conn, cursor, taken[0], checked)
        except RETRY_ERRORS as exc:
            log.warning("a batch of %s deliveries met a deadlock (attempt %s), storing it again", len(checked), attempt)
            failure: Exception = exc
    unavailable = DatabaseUnavailable(
        f"the delivery could not be stored ({type(failure).__name__}, {BATCH_ATTEMPTS} attempts); nothing was "
        "kept: send it again",
        retry_after=DATABASE_RETRY_SECONDS,
    )
    return [c if isinstance(c, RateLimited) else unavailable for c in checked]


BATCH_ATTEMPTS = 4
"""How often a batch PostgreSQL aborted for a deadlock or a serialization failure is stored again (the whole
transaction: the locks its earlier deliveries hold are part of the cycle) before its deliveries are answered 503."""
WRITE_TIMEOUTS = "SELECT set_config('lock_timeout', '2s', true), set_config('statement_timeout', '4s', true)"
"""PostgreSQL, for the batch's transaction only (``set_config(..., true)`` is ``SET LOCAL``, both in one statement:
one exchange with the server; searches set their own): a row another console or
a stuck transaction holds past 2 s, or a statement running past 4 s, fails the delivery with 503
``database_unavailable`` rather than letting the webhook hang past the platform's 10 s timeout (contract: it
retries any answer that is not 2xx, and a timeout too, so answering 503 early loses nothing). A deadlock is found
after PostgreSQL's ``deadlock_timeout`` (1 s), before the lock timeout."""


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
    would turn a forgery into an applied status (case C16); also for a repeated ``webhook-id`` whose stored body
    is only its first 4 KB (``ingest_store._FIRST_OF_ID``), unless ``body`` is given.
    """
    with write_connection(engine) as conn:
        original = conn.execute(
            select(DELIVERIES.c.body, DELIVERIES.c.verdict, DELIVERIES.c.console_made, DELIVERIES.c.body_length).where(
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
    if body is None and original.body_length is not None and len(raw) < original.body_length:
        raise ReplayRefused(
            f"delivery {delivery_id} keeps only the first {len(raw):,} of its body's {original.body_length:,} bytes "
            "(a repeated webhook-id): replay the delivery that webhook-id was first stored with, or send an edited "
            "body"
        )
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
