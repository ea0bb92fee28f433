"""Rounds: listing pending rounds and submitting a round's tool results.

One submission per round, holding exactly the round's set of tool call ids
(contract, "Tool results"). ``submit_round`` checks that before anything is
sent, claims the round so a second tab or script cannot send it twice, and
sends one ``send_tool_responses`` with an ``Idempotency-Key`` derived from the
round, so a retry never answers twice.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
import time
from collections import defaultdict
from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import Engine
from sqlmodel import Session, col, func, select

from app.answerers import Answerer
from app.db import read_session, write_session
from app.errors import NotFound, ResultsMismatch, RoundClosed, TooldeskError
from app.models import (
    Draft,
    DraftPublic,
    OutboxItem,
    Round,
    RoundPublic,
    ToolCallPublic,
    ToolCallRow,
    ToolResultPublic,
    ToolResultRow,
)
from app.pools import in_handlers
from app.protocol import ToolResponses, ToolResult
from app.services.outbox import Outbox, first_attempt_at, state_after_refusal
from app.states import HANDLER_DRAFT_MODES, AttemptOutcome, RoundState

log = logging.getLogger("tooldesk")

BATCH = 500
"""Round ids per query when reading many rounds' calls, results and drafts (SQLite bounds a query's parameters)."""


def list_pending_rounds(*, engine: Engine) -> list[RoundPublic]:
    """Rounds waiting for an answer (state ``pending``), oldest first."""
    with read_session(engine) as session:
        rows = session.exec(
            select(Round).where(Round.state == RoundState.PENDING).order_by(col(Round.opened_at), col(Round.id))
        ).all()
        return rounds_public(session, rows)


def count_pending_rounds(*, engine: Engine) -> int:
    """How many rounds wait for an answer: one query, for the badge every open tab refreshes on every change."""
    with read_session(engine) as session:
        return session.exec(select(func.count()).select_from(Round).where(Round.state == RoundState.PENDING)).one()


def get_round(*, engine: Engine, round_id: int) -> RoundPublic:
    """One round; raises ``NotFound``."""
    with read_session(engine) as session:
        row = session.get(Round, round_id)
        if row is None:
            raise NotFound(f"no round with id {round_id}")
        return round_public(session, row)


def round_states(*, engine: Engine, round_ids: Sequence[int]) -> list[Round]:
    """The rounds of ``round_ids`` that exist, as plain rows (id, task_id, round, state, message: no calls or
    results), in the order of their ids; one query for every ``BATCH`` of ids, so a page that asks about every card
    that left it pays the same for one card or a page of them."""
    rows: list[Round] = []
    with read_session(engine) as session:
        for start in range(0, len(round_ids), BATCH):
            batch = list(round_ids[start : start + BATCH])
            rows.extend(session.exec(select(Round).where(col(Round.id).in_(batch)).order_by(col(Round.id))))
    return rows


def round_public(session: Session, row: Round) -> RoundPublic:
    """A round row with its calls and results, as the API and UI show it."""
    return rounds_public(session, [row])[0]


def rounds_public(session: Session, rows: Sequence[Round]) -> list[RoundPublic]:
    """``round_public`` for many rounds, with three queries for every ``BATCH`` of them (not three a round: the
    Inbox of every open tab reads every pending round on every change)."""
    calls: dict[int, list[ToolCallRow]] = defaultdict(list)
    results: dict[int, list[ToolResultRow]] = defaultdict(list)
    drafts: dict[int, list[Draft]] = defaultdict(list)
    ids = [row.id for row in rows if row.id is not None]
    for start in range(0, len(ids), BATCH):
        batch = ids[start : start + BATCH]
        for call in session.exec(
            select(ToolCallRow).where(col(ToolCallRow.round_id).in_(batch)).order_by(col(ToolCallRow.position))
        ):
            calls[call.round_id].append(call)
        for result in session.exec(
            select(ToolResultRow).where(col(ToolResultRow.round_id).in_(batch)).order_by(col(ToolResultRow.id))
        ):
            results[result.round_id].append(result)
        handler_drafts = col(Draft.round_id).in_(batch), col(Draft.mode).in_(HANDLER_DRAFT_MODES)
        for draft in session.exec(select(Draft).where(*handler_drafts).order_by(col(Draft.id))):
            drafts[draft.round_id].append(draft)
    return [
        RoundPublic(
            **row.model_dump(),
            tool_calls=[ToolCallPublic.model_validate(c, from_attributes=True) for c in calls.get(row.id or 0, [])],
            results=[ToolResultPublic.model_validate(r, from_attributes=True) for r in results.get(row.id or 0, [])],
            drafts=[DraftPublic.model_validate(d, from_attributes=True) for d in drafts.get(row.id or 0, [])],
        )
        for row in rows
    ]


async def submit_round(
    *,
    engine: Engine,
    outbox: Outbox,
    round_id: int,
    results: Sequence[ToolResult],
    answered_by: Answerer,
    sources: Mapping[str, Answerer] | None = None,
) -> RoundPublic:
    """Send a round's results to the platform once, through the outbox.

    ``results``: one per tool call of the round, in any order; ``answered_by`` is who submits the round,
    ``sources`` who answered a call when that differs (a handler's suggestion a person sent unchanged). Raises ``ResultsMismatch`` (422) naming missing,
    unknown or repeated ids before anything is sent; ``RoundClosed`` (409) when the round is not pending
    (another tab or script answered it, or it expired); ``PlatformError`` with the platform's status and words
    when it refuses (409 ``not_awaiting``, 410 ``expired``, 422 ``tool_call_mismatch``). When the platform
    cannot be reached the round stays ``submitting`` and the outbox retries: the returned round says so.
    """
    item_id = await asyncio.to_thread(_claim, engine, round_id, list(results), answered_by, dict(sources or {}))
    attempt = await outbox.deliver(item_id)
    if attempt.outcome == AttemptOutcome.REFUSED and attempt.error is not None:
        raise attempt.error
    return await asyncio.to_thread(lambda: get_round(engine=engine, round_id=round_id))


def check_results(calls: Sequence[str], results: Sequence[ToolResult]) -> None:
    """Raise ``ResultsMismatch`` unless ``results`` names each of ``calls`` exactly once."""
    given = [result.tool_call_id for result in results]
    missing = [call for call in calls if call not in given]
    unexpected = [call for call in given if call not in calls]
    repeated = sorted({call for call in given if given.count(call) > 1})
    problems = []
    if missing:
        problems.append(f"no result for {', '.join(missing)}")
    if unexpected:
        problems.append(f"unknown tool call id {', '.join(unexpected)}")
    if repeated:
        problems.append(f"more than one result for {', '.join(repeated)}")
    if problems:
        raise ResultsMismatch("; ".join(problems) + ": answer every call of the round once, then submit")


def leaves_round_pending(exc: TooldeskError) -> bool:
    """True when a refused submission is back with a person to fix and send again: our own checks, or the
    platform's 400 or 422. A 404, 409 or 410 closes the round (the rule is ``outbox.state_after_refusal``)."""
    return isinstance(exc, ResultsMismatch) or state_after_refusal(exc) == RoundState.PENDING


def _claim(
    engine: Engine, round_id: int, results: list[ToolResult], answered_by: Answerer, sources: dict[str, Answerer]
) -> int:
    """Check the results, mark the round ``submitting`` and store the submission in the outbox, in one
    transaction. Returns the outbox item's id."""
    with write_session(engine) as session:
        item = claim_round(session, round_id, results, answered_by, sources)
        assert item.id is not None
        return item.id


def locked_round(session: Session, round_id: int, *, skip_locked: bool = False) -> Round | None:
    """The round, its row locked until the transaction ends (``SELECT ... FOR UPDATE`` on PostgreSQL, where
    several consoles may claim the same round; SQLite has one writer and no such clause). With ``skip_locked``, a
    round another transaction holds is ``None`` at once (``SKIP LOCKED``) instead of waited for."""
    query = (
        select(Round)
        .where(Round.id == round_id)
        .with_for_update(skip_locked=skip_locked)
        .execution_options(populate_existing=True)
    )
    return session.exec(query).first()


def claim_round(
    session: Session,
    round_id: int,
    results: list[ToolResult],
    answered_by: Answerer,
    sources: dict[str, Answerer],
    *,
    skip_locked: bool = False,
) -> OutboxItem:
    """``_claim`` inside the caller's write transaction (the responder stores its drafts in the same one): the
    outbox item, flushed (it has its id). The round's row is locked first (``locked_round``): a person's
    submission waits for another console's claim and then finds the round taken; ``skip_locked`` (handlers) does
    not wait. Raises ``NotFound``, ``RoundClosed`` (also when ``skip_locked`` found it held) or
    ``ResultsMismatch``."""
    now = time.time()
    row = locked_round(session, round_id, skip_locked=skip_locked)
    if row is None:
        if skip_locked and session.get(Round, round_id) is not None:
            raise RoundClosed(f"round {round_id} is being claimed by another console; nothing was sent")
        raise NotFound(f"no round with id {round_id}")
    if row.state != RoundState.PENDING:
        answerer = row.answerer()
        who = f" by {answerer.text}" if answerer is not None else ""
        raise RoundClosed(f"round {row.round} of task {row.task_id} is {row.state}{who}; nothing was sent")
    calls = session.exec(
        select(ToolCallRow.tool_call_id).where(ToolCallRow.round_id == round_id).order_by(col(ToolCallRow.position))
    ).all()
    check_results(list(calls), results)
    row.state = RoundState.SUBMITTING
    row.message = ""
    row.submitted_at = now
    session.add(row)
    for old in session.exec(select(OutboxItem).where(OutboxItem.round_id == round_id)).all():
        session.delete(old)  # a refused earlier submission of this round
    session.flush()
    dialect = session.get_bind().dialect.name
    item = OutboxItem(
        **submission(
            round_id=round_id, task_id=row.task_id, agent_id=row.agent_id, round_number=row.round, results=results,
            answered_by=answered_by, sources=sources, next_attempt_at=first_attempt_at(dialect, now), now=now,
        )
    )  # fmt: skip
    session.add(item)
    session.flush()
    return item


def submission(
    *,
    round_id: int,
    task_id: int,
    agent_id: str,
    round_number: int,
    results: list[ToolResult],
    answered_by: Answerer,
    sources: Mapping[str, Answerer],
    next_attempt_at: float,
    now: float,
) -> dict[str, Any]:
    """The column values of a claimed round's outbox item (``OutboxItem`` keyword arguments, its own defaults
    left out): the ``send_tool_responses`` body, a fresh idempotency key, who answered the round and each call."""
    body = ToolResponses(round=round_number, results=results)
    return {
        "round_id": round_id,
        "task_id": task_id,
        "agent_id": agent_id,
        "body": body.model_dump(),
        # one key per submission, kept for all its retries; random, because SQLite reuses a deleted rowid
        "idempotency_key": f"tooldesk-{task_id}-round-{round_number}-{secrets.token_hex(6)}",
        **answered_by.columns(),
        "sources": {call: source.model_dump(mode="json") for call, source in sources.items()},
        "next_attempt_at": next_attempt_at,
        "created_at": now,
    }


async def submit_unwatched(
    *,
    engine: Engine,
    outbox: Outbox,
    round_id: int,
    results: Sequence[ToolResult],
    answered_by: Answerer,
    sources: Mapping[str, Answerer],
    what: str,
) -> None:
    """``submit_round`` for a round nobody is watching (handlers in auto mode, a fallback), on the handlers' pool:
    a round answered meanwhile or refused is logged as "round N not ``what``", not raised; the round itself shows
    the platform's words."""
    try:
        item_id = await in_handlers(_claim, engine, round_id, list(results), answered_by, dict(sources))
    except TooldeskError as exc:
        log.info("round %s not %s: %s", round_id, what, exc.message)
        return
    await deliver_unwatched(outbox=outbox, item_id=item_id, round_id=round_id, what=what)


async def deliver_unwatched(
    *, outbox: Outbox, item_id: int, round_id: int, what: str, item: OutboxItem | None = None
) -> None:
    """Deliver a claimed round's outbox item now (``item``: the row just stored, so it is not read again); a
    refusal is logged as "round N not ``what``" (the round shows the platform's words), a failure to reach the
    platform is left to the outbox's retries."""
    attempt = await outbox.deliver(item_id, item=item)
    if attempt.outcome == AttemptOutcome.REFUSED and attempt.error is not None:
        log.info("round %s not %s: %s", round_id, what, attempt.error.message)
