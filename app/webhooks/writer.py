"""The webhook's writer: one thread of its own that stores deliveries in batches (group commit).

Requests queue here (``submit``, on the event loop); the writer thread waits for the first one, takes the
database's write lock (``app.db.write_connection``), then takes every request waiting at that moment (at most
``BATCH_CAP``, those that came while it waited for the lock included) and stores and applies them all in one
transaction (``app.services.ingest.ingest_batch``): one fsync for the batch. Only after the commit does it hand
the results back to the event loop (``loop.call_soon_threadsafe``, once per batch), which answers each request
and then calls ``on_stored`` with the batch's outcomes (``Runtime.deliveries_stored``: pages and the responder).

The queue is capped two ways, both counting requests taken and not yet answered: at ``TOOLDESK_INGEST_QUEUE``
of them, and as soon as the writer is behind, when the oldest has waited more than ``MAX_WAIT_SECONDS`` for its
commit while more than ``BEHIND_AT_LEAST`` wait (a burst the writer cannot keep up with: taking more would only
lengthen every answer; one slow fsync with a few waiting is not that). Past either ``submit`` (and
``check_room``, before the body is read) raises ``Overloaded`` at once (503 with ``Retry-After``, nothing
stored), so a burst is turned away within milliseconds instead of queueing past the platform's 10 s timeout; the
platform sends it again later with the same webhook-id (contract, "Webhook delivery"). The thread is not the loop's default executor
(``app.pools``): pages and handlers can never make a delivery wait for a thread.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
import time
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from sqlalchemy import Engine

from app.errors import DatabaseUnavailable, Overloaded, TooldeskError
from app.services.fast_sql import UNAVAILABLE_ERRORS
from app.services.ingest import DATABASE_RETRY_SECONDS, Outcome, Received, Result, ingest_batch
from app.webhooks.checkpoint import Checkpointer
from app.webhooks.limits import RefusalLimiter
from app.webhooks.secret_set import WebhookSecrets

log = logging.getLogger("tooldesk")

BATCH_CAP = 256
"""Requests stored in one transaction at most."""
ANSWER_CHUNK = 32
"""Requests of a committed batch answered per turn of the event loop (``IngestWriter._answer``)."""
RETRY_AFTER_SECONDS = 1
MAX_WAIT_SECONDS = 0.1
"""The writer is behind when the oldest request not yet answered has waited longer than this (and more than
``BEHIND_AT_LEAST`` wait): new ones are answered 503 until it catches up."""
BEHIND_AT_LEAST = 64
"""Requests waiting below which a long wait is a slow commit, not a backlog: never refused for their wait."""
"""``Retry-After`` of a 503: a batch takes milliseconds, so the queue has room again well within a second."""


@dataclass
class _Job:
    request: Received
    future: asyncio.Future[Result]


class IngestWriter:
    """Group-commit writer for webhook deliveries; ``submit`` from the event loop, ``aclose`` to stop.

    ``secrets`` is called for each batch (the set changes when the secret is rotated); ``on_stored(outcomes)``
    runs on the event loop after each commit, with the outcome of every request of the batch that was stored.
    """

    def __init__(
        self,
        *,
        engine: Engine,
        secrets: Callable[[], WebhookSecrets],
        limiter: RefusalLimiter,
        max_body_bytes: int,
        queue_cap: int,
        on_stored: Callable[[list[Outcome]], None],
    ) -> None:
        self.queue_cap = queue_cap
        self._engine = engine
        self._secrets = secrets
        self._limiter = limiter
        self._max_body_bytes = max_body_bytes
        self._on_stored = on_stored
        self._waiting: deque[_Job] = deque()
        self._wake = threading.Condition()
        self._in_flight = 0  # taken and not yet answered; only the event loop's thread changes it
        self._arrivals: deque[float] = deque()  # monotonic times the requests in flight were taken, oldest first
        self._stopping = False
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._checkpointer = Checkpointer(engine=engine)  # the WAL is copied back off the commit path

    @property
    def in_flight(self) -> int:
        """Requests taken and not answered yet (waiting, or in the batch being written)."""
        return self._in_flight

    async def store(self, request: Received) -> Outcome:
        """Store ``request`` in the next batch; its ``Outcome`` once that batch committed.

        Raises ``Overloaded`` at once when ``queue_cap`` requests are in flight (nothing stored), ``RateLimited``
        for a refusal past the limiter's rate (nothing stored), ``TooldeskError`` (500) when storing it failed.
        """
        result = await self.submit(request)
        if isinstance(result, TooldeskError):
            raise result
        return result

    def submit(self, request: Received) -> asyncio.Future[Result]:
        """Queue ``request``; a future of its ``Result``, set on the event loop after its batch committed. Raises
        ``Overloaded`` when the queue is full. Starts the thread on first use (it needs the running loop)."""
        self.check_room()
        if self._thread is None:
            self._start(asyncio.get_running_loop())
        loop = self._loop
        assert loop is not None
        future: asyncio.Future[Result] = loop.create_future()
        self._in_flight += 1
        self._arrivals.append(time.monotonic())
        with self._wake:
            self._waiting.append(_Job(request, future))
            self._wake.notify()
        return future

    def check_room(self) -> None:
        """Raise ``Overloaded`` when ``queue_cap`` requests are in flight, or the writer is behind (module docstring);
        called before reading a body for nothing."""
        if self._in_flight >= self.queue_cap:
            raise Overloaded(
                f"{self._in_flight} deliveries are waiting to be stored (limit {self.queue_cap}, "
                f"TOOLDESK_INGEST_QUEUE); nothing was stored: send it again in {RETRY_AFTER_SECONDS} s",
                retry_after=RETRY_AFTER_SECONDS,
            )
        if self._in_flight > BEHIND_AT_LEAST:
            waited = time.monotonic() - self._arrivals[0]
            if waited > MAX_WAIT_SECONDS:
                raise Overloaded(
                    f"{self._in_flight} deliveries are waiting to be stored, the oldest for {waited * 1000:.0f} ms "
                    f"(limit {MAX_WAIT_SECONDS * 1000:.0f} ms); nothing was stored: send it again in "
                    f"{RETRY_AFTER_SECONDS} s",
                    retry_after=RETRY_AFTER_SECONDS,
                )

    def _start(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop
        self._stopping = False
        self._thread = threading.Thread(target=self._run, name="tooldesk-ingest", daemon=True)
        self._thread.start()

    async def aclose(self) -> None:
        """Store what is waiting, then stop the thread."""
        thread = self._thread
        if thread is None:
            return
        with self._wake:
            self._stopping = True
            self._wake.notify()
        await asyncio.to_thread(thread.join, 30)
        self._thread = None
        await asyncio.to_thread(self._checkpointer.stop)

    def _run(self) -> None:
        while True:
            with self._wake:
                while not self._waiting and not self._stopping:
                    self._wake.wait()
                if not self._waiting:
                    return
            self._write_batch()

    def _write_batch(self) -> None:
        """Store one batch and hand its results to the event loop."""
        taken: list[_Job] = []

        def take() -> list[Received]:
            with self._wake:
                while self._waiting and len(taken) < BATCH_CAP:
                    taken.append(self._waiting.popleft())
            return [job.request for job in taken]

        results: Sequence[Result]
        try:
            results = ingest_batch(
                engine=self._engine,
                secret=self._secrets(),
                take=take,
                limiter=self._limiter,
                max_body_bytes=self._max_body_bytes,
            )
        except Exception as exc:  # the transaction itself failed: nothing of the batch is stored
            if not taken:  # failed before taking any (BEGIN): fail those waiting rather than loop on them
                take()
            failed: TooldeskError
            if isinstance(exc, UNAVAILABLE_ERRORS):  # the database's state, not a bug: 503 as the API answers
                said = (str(getattr(exc, "orig", None) or exc).strip().splitlines() or [type(exc).__name__])[0]
                log.warning("storing a batch of %s deliveries failed: %s", len(taken), said)
                failed = DatabaseUnavailable(
                    f"the console cannot use its database right now ({said}); nothing was kept: send it again",
                    retry_after=DATABASE_RETRY_SECONDS,
                )
            else:
                log.exception("storing a batch of %s deliveries failed", len(taken))
                failed = TooldeskError(
                    f"the delivery could not be stored ({type(exc).__name__}); nothing was kept: send it again"
                )
            results = [failed] * len(taken)
        loop = self._loop
        if loop is None or loop.is_closed():
            return
        with contextlib.suppress(RuntimeError):  # the loop closed meanwhile (shutdown): its requests went with it
            loop.call_soon_threadsafe(self._answer, taken, results)
        self._checkpointer.kick()

    def _answer(self, taken: list[_Job], results: Sequence[Result]) -> None:
        """On the event loop: answer each request of a committed batch, then tell ``on_stored``. The answers go
        ``ANSWER_CHUNK`` at a time, one turn of the loop each, so a request that arrives meanwhile (above all one
        to refuse with 503) waits behind a chunk of them, not behind a whole batch of up to ``BATCH_CAP``."""
        self._in_flight -= len(taken)
        for _ in taken:
            self._arrivals.popleft()
        self._answer_from(taken, results, 0)

    def _answer_from(self, taken: list[_Job], results: Sequence[Result], start: int) -> None:
        end = min(start + ANSWER_CHUNK, len(taken))
        for job, result in zip(taken[start:end], results[start:end], strict=True):
            if not job.future.done():  # a request whose client left is stored all the same
                job.future.set_result(result)
        if end < len(taken) and self._loop is not None:
            self._loop.call_soon(self._answer_from, taken, results, end)
            return
        stored = [result for result in results if isinstance(result, Outcome)]
        if stored:
            self._on_stored(stored)
