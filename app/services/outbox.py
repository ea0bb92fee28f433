"""The outbox: every ``send_tool_responses`` is stored first, then delivered, and retried until it lands.

A submission is written in the same transaction that claims the round, so it
survives a restart. Delivery is tried at once, by the caller that stored it (no
poll in between; the loop below only picks up retries and items left by a restart); while the platform is
unreachable or answers 5xx it is retried with backoff (1, 2, 4 ... 60 s),
always with the same ``Idempotency-Key`` (contract: a repeat "returns the first
answer again and does not advance the run twice"). A 404, 409, 410 or 422 ends
the attempt and puts the platform's words on the round; a 422 hands the round
back to a person (state ``pending``), the others close it, and then the console
asks the platform once about the run and applies what it says (issue 8).
Its blocking database work runs on the handlers' pool (``app.pools.in_handlers``), never on the UI's.

Several consoles on one PostgreSQL database share one outbox, and each submission is sent by one of them at a time:
the console that stores a submission holds it for ``LEASE_SECONDS`` (its first ``next_attempt_at`` is that far
ahead, ``first_attempt_at``) while it sends it at once; the loop of any console takes a due item with
``SELECT ... FOR UPDATE SKIP LOCKED`` and moves its ``next_attempt_at`` past the lease in the same transaction
(``_claim_due``), so two consoles never take the same item, and an item whose console was killed mid-send is
taken by another (or by it, restarted) once the lease is over, with the same ``Idempotency-Key``. On SQLite one
console owns the file, and items are due at once.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy import Engine, update
from sqlmodel import col, func, select

from app.answerers import Answerer
from app.db import read_session, write_session
from app.errors import PlatformError, PlatformUnreachable, TooldeskError
from app.models import OutboxItem, Round, ToolResultRow
from app.platform.client import PlatformClient
from app.pools import in_handlers
from app.protocol import ToolResponses
from app.services.events import add_event
from app.services.fast_sql import UNAVAILABLE_ERRORS
from app.services.reconcile import REFUSALS_TO_CHECK, check_after_refusal
from app.states import AttemptOutcome, EventKind, OutboxState, RoundState

log = logging.getLogger("tooldesk")
MAX_BACKOFF_SECONDS = 60.0
IDLE_CHECK_SECONDS = 5.0
LEASE_SECONDS = 30.0
"""On PostgreSQL: seconds a console holds a submission it is sending before another console may take it; longer
than the platform client's timeout (15 s, ``app.platform.client``), so a live console's attempt is never doubled."""


@dataclass(frozen=True)
class Attempt:
    """What one delivery attempt did."""

    outcome: AttemptOutcome
    error: PlatformError | None = None


class Outbox:
    """Delivers stored submissions. ``on_change(task_id)`` runs after each state change it makes."""

    def __init__(
        self, *, engine: Engine, client: PlatformClient, on_change: Callable[[int], None], first_retry: float = 1.0
    ) -> None:
        self._engine = engine
        self._first_retry = first_retry
        self._client = client
        self._on_change = on_change
        self.on_run_checked: Callable[[int], None] = on_change
        """Called with the task_id when asking the platform after a refusal changed the run (the runtime sets it to
        ``Runtime.runs_reconciled``, so handlers answer a round the check opened)."""
        self._wake = asyncio.Event()
        self._inflight: set[int] = set()
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        """Start the background loop; pending items from before a restart are delivered first."""
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._run(), name="outbox")

    async def aclose(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    def wake(self) -> None:
        """Look at the queue now (a new item, or the platform is back)."""
        self._wake.set()

    async def deliver(self, item_id: int, *, item: OutboxItem | None = None) -> Attempt:
        """Try one item now. Returns an ``Attempt`` sent, retrying (with the error) or refused (with the error);
        an item already being delivered is left to that attempt. ``item``: the row as the caller just stored it
        (a pending item not yet tried), so it is not read again; without it the row is read first."""
        if item_id in self._inflight:
            return Attempt(AttemptOutcome.RETRYING)
        self._inflight.add(item_id)
        try:
            return await self._attempt(item_id, item)
        finally:
            self._inflight.discard(item_id)

    async def _attempt(self, item_id: int, stored: OutboxItem | None) -> Attempt:
        item = stored if stored is not None else await in_handlers(_load, self._engine, item_id)
        if item is None or item.state != OutboxState.PENDING:
            sent = item is not None and item.state == OutboxState.SENT
            return Attempt(AttemptOutcome.SENT if sent else AttemptOutcome.REFUSED)
        body = ToolResponses.model_validate(item.body)
        try:
            await self._client.send_tool_responses(
                agent_id=item.agent_id, task_id=item.task_id, body=body, idempotency_key=item.idempotency_key
            )
        except PlatformError as exc:
            if _transient(exc):
                await in_handlers(_retry_later, self._engine, item_id, exc, self._first_retry)
                self._on_change(item.task_id)
                self.wake()
                return Attempt(AttemptOutcome.RETRYING, exc)
            if exc.code != "bad_reply":
                await in_handlers(_refused, self._engine, item_id, exc)
                self._on_change(item.task_id)
                if exc.status in REFUSALS_TO_CHECK:
                    await self._ask_about_run(item, exc)
                return Attempt(AttemptOutcome.REFUSED, exc)
            log.warning("task %s round %s: %s (the 2xx counts as accepted)", item.task_id, body.round, exc.message)
        except Exception as unexpected:  # a bug or an odd failure: keep the item, try again later
            log.exception("outbox item %s: unexpected failure", item_id)
            failure = PlatformError(f"{type(unexpected).__name__}: {unexpected}", status=500, code="unexpected")
            await in_handlers(_retry_later, self._engine, item_id, failure, self._first_retry)
            self._on_change(item.task_id)
            return Attempt(AttemptOutcome.RETRYING, failure)
        await in_handlers(_sent, self._engine, item_id)
        self._on_change(item.task_id)
        return Attempt(AttemptOutcome.SENT)

    async def _ask_about_run(self, item: OutboxItem, refusal: PlatformError) -> None:
        """Once per refusal: what does the platform say about the run now (``reconcile.check_after_refusal``)."""
        try:
            changed = await check_after_refusal(
                engine=self._engine, client=self._client, task_id=item.task_id, agent_id=item.agent_id, refusal=refusal
            )
        except Exception:  # the refusal is already stored and shown; a failed check must not hide it
            log.exception("task %s: asking the platform after its %s failed", item.task_id, refusal.status)
            return
        if changed:
            self.on_run_checked(item.task_id)

    async def _run(self) -> None:
        while True:
            self._wake.clear()  # before reading the queue, so a wake during the read is not lost
            try:
                due, wait = await in_handlers(_claim_due if _shared(self._engine) else _due, self._engine)
                if due:
                    for item_id in due:
                        await self.deliver(item_id)
                    continue  # read the queue again: a retry may already be due
            except UNAVAILABLE_ERRORS as exc:  # the driver's own error (gone, locked, read-only...): one line
                said = (str(getattr(exc, "orig", None) or exc).strip().splitlines() or [type(exc).__name__])[0]
                log.warning("outbox pass failed on the database (%s); again in %s s", said, IDLE_CHECK_SECONDS)
                wait = IDLE_CHECK_SECONDS
            except Exception:  # keep the loop alive: an item that fails this way is tried again later
                log.exception("outbox pass failed")
                wait = IDLE_CHECK_SECONDS
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), timeout=wait)


def state_after_refusal(exc: TooldeskError) -> RoundState:
    """A refused round's next state: back to a person (``pending``) on 400 or 422, which can be fixed and sent
    again; ``expired`` on 410; ``closed`` on 404 or 409 (contract, ``send_tool_responses`` errors)."""
    if exc.status in {400, 422}:
        return RoundState.PENDING
    return RoundState.EXPIRED if exc.status == 410 else RoundState.CLOSED


def backoff(attempts: int, first: float = 1.0) -> float:
    """Seconds before attempt ``attempts + 1``: ``first``, twice that, four times ... capped at 60."""
    return min(MAX_BACKOFF_SECONDS, first * 2.0 ** max(0, attempts - 1))


def _transient(exc: PlatformError) -> bool:
    return isinstance(exc, PlatformUnreachable) or (exc.status >= 500 and exc.code != "bad_reply")


def _load(engine: Engine, item_id: int) -> OutboxItem | None:
    with read_session(engine) as session:
        return session.get(OutboxItem, item_id)


def _due(engine: Engine) -> tuple[list[int], float]:
    """Ids due now, and seconds until the next one (at most ``IDLE_CHECK_SECONDS``)."""
    now = time.time()
    with read_session(engine) as session:
        rows = session.exec(
            select(OutboxItem.id, OutboxItem.next_attempt_at)
            .where(OutboxItem.state == OutboxState.PENDING)
            .order_by(col(OutboxItem.next_attempt_at))
        ).all()
    due = [item_id for item_id, at in rows if at <= now and item_id is not None]
    later = [at - now for _, at in rows if at > now]
    return due, min([IDLE_CHECK_SECONDS, *later])


def _shared(engine: Engine) -> bool:
    """True when other consoles may share the database (PostgreSQL)."""
    return engine.dialect.name == "postgresql"


def first_attempt_at(dialect: str, now: float) -> float:
    """A new submission's ``next_attempt_at`` (seconds since the epoch) on a database of ``dialect``
    (SQLAlchemy's name): ``now`` on SQLite; on PostgreSQL ``now + LEASE_SECONDS``, since the console storing it
    sends it at once and holds it meanwhile (module docstring)."""
    return now + LEASE_SECONDS if dialect == "postgresql" else now


def _claim_due(engine: Engine) -> tuple[list[int], float]:
    """``_due`` for consoles sharing a PostgreSQL database: the id of one due item, taken with ``SELECT ... FOR
    UPDATE SKIP LOCKED`` (an item another console is taking is skipped, not waited for) and leased for
    ``LEASE_SECONDS`` in the same transaction; and seconds until the next item is due (at most
    ``IDLE_CHECK_SECONDS``)."""
    now = time.time()
    pending = OutboxItem.state == OutboxState.PENDING
    with write_session(engine) as session:
        taken = session.exec(
            select(OutboxItem.id)
            .where(pending, OutboxItem.next_attempt_at <= now)
            .order_by(col(OutboxItem.next_attempt_at))
            .limit(1)
            .with_for_update(skip_locked=True)
        ).all()
        if taken:
            lease = update(OutboxItem).where(col(OutboxItem.id).in_(taken)).values(next_attempt_at=now + LEASE_SECONDS)
            session.execute(lease)
            return [item_id for item_id in taken if item_id is not None], 0.0
        later = session.exec(select(func.min(OutboxItem.next_attempt_at)).where(pending)).one()
    return [], min(IDLE_CHECK_SECONDS, max(0.0, later - now) if later is not None else IDLE_CHECK_SECONDS)


def _retry_later(engine: Engine, item_id: int, exc: PlatformError, first: float) -> None:
    now = time.time()
    with write_session(engine) as session:
        item = session.get(OutboxItem, item_id)
        assert item is not None
        item.attempts += 1
        delay = backoff(item.attempts, first)
        item.next_attempt_at = now + delay
        item.last_error = exc.message
        session.add(item)
        row = session.get(Round, item.round_id)
        if row is not None:
            row.message = (
                f"queued: attempt {item.attempts} failed ({exc.status} {exc.code}: {exc.message}); "
                f"next attempt in {delay:g} s"
            )
            session.add(row)


def _sent(engine: Engine, item_id: int) -> None:
    now = time.time()
    with write_session(engine) as session:
        item = session.get(OutboxItem, item_id)
        assert item is not None
        if item.state == OutboxState.SENT:
            return  # another attempt of this process stored it first: its results are stored once
        item.state = OutboxState.SENT
        item.attempts += 1
        item.sent_at = now
        session.add(item)
        row = session.get(Round, item.round_id)
        assert row is not None
        row.state = RoundState.SUBMITTED
        submitter = item.answerer()
        for column, value in submitter.columns().items():
            setattr(row, column, value)
        row.submitted_at = row.submitted_at or item.created_at
        row.acknowledged_at = now
        row.message = "" if item.attempts == 1 else f"sent on attempt {item.attempts}"
        session.add(row)
        body = ToolResponses.model_validate(item.body)
        for result in body.results:
            source = item.sources.get(result.tool_call_id)
            answerer = Answerer.model_validate(source) if source else submitter
            session.add(
                ToolResultRow(
                    **answerer.columns(),
                    round_id=item.round_id,
                    tool_call_id=result.tool_call_id,
                    output=result.output,
                    is_error=result.is_error,
                    created_at=now,
                )
            )
        errors = sum(result.is_error for result in body.results)
        note = f", {errors} as error" if errors else ""
        summary = f"round {row.round} answered by {submitter.text}: {len(body.results)} result(s){note}"
        add_event(
            db=session, task_id=row.task_id, kind=EventKind.ROUND_SUBMITTED, summary=summary, at=now, round_id=row.id
        )


def _refused(engine: Engine, item_id: int, exc: PlatformError) -> None:
    now = time.time()
    with write_session(engine) as session:
        item = session.get(OutboxItem, item_id)
        assert item is not None
        item.state = OutboxState.FAILED
        item.attempts += 1
        item.last_error = exc.message
        session.add(item)
        row = session.get(Round, item.round_id)
        assert row is not None
        row.state = state_after_refusal(exc)
        row.message = f"platform answered {exc.status} {exc.code}: {exc.message}"
        session.add(row)
        summary = f"round {row.round} not accepted: {row.message}"
        add_event(
            db=session, task_id=row.task_id, kind=EventKind.ROUND_REFUSED, summary=summary, at=now, round_id=row.id
        )
