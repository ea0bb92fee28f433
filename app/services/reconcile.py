"""One-off reconciliation: at start, ask the platform once about every run that is not over; after the platform
refused a submission or a cancel (404, 409, 410), ask it once about that run (``check_after_refusal``).

The contract allows ``get_agent_task_status`` "for a one-off reconciliation
(after a restart, after a suspected lost delivery), never in a loop". A status
newer than the stored one is applied as a delivery would be (by ``sequence``);
a run the platform no longer knows (404) gets the console's own status
``lost`` and its pending rounds are closed, with the reason on its timeline.
The embedded simulator keeps its runs in the database (``app.simulator.storage``), so
``lost`` means the platform really forgot the run. A round left ``submitting`` by a
stop mid-send is pending again.
"""

from __future__ import annotations

import asyncio
import logging
import time

from sqlalchemy import Engine, func, or_
from sqlalchemy import select as core_select
from sqlmodel import col, select

from app import run_counts
from app.db import read_session, write_connection
from app.errors import PlatformError, PlatformUnreachable
from app.models import OutboxItem, Run
from app.platform.client import PlatformClient
from app.protocol import RunStatus
from app.services.apply import ROUNDS, RUNS, apply_status
from app.services.events import add_event
from app.states import TERMINAL_STATUSES, EventKind, OutboxState, RoundState, RunStatusName, Verdict

RECONCILE_WINDOW_SECONDS = 7 * 86400
RECONCILE_LIMIT = 1000
OUTBOX = OutboxItem.__table__  # type: ignore[attr-defined]
log = logging.getLogger("tooldesk")


REFUSALS_TO_CHECK = frozenset({404, 409, 410})
"""The platform's refusals of a submission after which the console asks it once about the run (issue 8)."""


async def check_after_refusal(
    *, engine: Engine, client: PlatformClient, task_id: int, agent_id: str, refusal: PlatformError
) -> bool:
    """After the platform refused a submission with 404, 409 or 410, ask it once (``get_agent_task_status``, the
    contract's one-off reconciliation) and apply what it says: a newer status as a delivery would be (the run
    completed, expired, moved to the next round); a 404 for the task makes the run ``lost``. The timeline says
    what was asked and learnt. Returns True when the run changed; never raises for a platform error."""
    said = f"after its {refusal.status} {refusal.code}, asked the platform about the run once"
    try:
        status = await client.get_agent_task_status(agent_id=agent_id, task_id=task_id)
    except PlatformError as exc:
        if exc.status == 404:
            await asyncio.to_thread(_note, engine, task_id, f"{said}: it no longer knows it (404 {exc.code})")
            return await asyncio.to_thread(_mark_lost, engine, task_id, exc.message)
        answer = f"{said}; no answer ({exc.status} {exc.code}: {exc.message}): the next delivery will tell"
        await asyncio.to_thread(_note, engine, task_id, answer)
        return False
    if status.task_id != task_id:
        await asyncio.to_thread(_note, engine, task_id, f"{said}: it answered about task {status.task_id}; ignored")
        return False
    applied = await asyncio.to_thread(_apply, engine, status)
    outcome = "applied" if applied else "nothing newer than what the console has"
    await asyncio.to_thread(_note, engine, task_id, f"{said}: {status.status} (sequence {status.sequence}), {outcome}")
    return applied


def _note(engine: Engine, task_id: int, summary: str) -> None:
    with write_connection(engine) as conn:
        add_event(db=conn, task_id=task_id, kind=EventKind.CHECKED, summary=summary, at=time.time())


async def reconcile_runs(*, engine: Engine, client: PlatformClient, before: float) -> list[int]:
    """Check once each run that was open and last changed before ``before`` (Unix seconds: the start).

    Runs that change after the start are current by definition. Returns the task_ids whose state changed;
    never raises for a platform error.
    """
    changed = await asyncio.to_thread(_release_claims, engine, before)
    open_runs = await asyncio.to_thread(_open_runs, engine, before)
    for task_id, agent_id in open_runs:
        try:
            status = await client.get_agent_task_status(agent_id=agent_id, task_id=task_id)
        except PlatformUnreachable as exc:
            log.warning("reconciliation stopped: %s", exc.message)
            break
        except PlatformError as exc:
            if exc.status == 404:
                await asyncio.to_thread(_mark_lost, engine, task_id, exc.message)
                changed.append(task_id)
            continue
        if await asyncio.to_thread(_apply, engine, status):
            changed.append(task_id)
    return list(dict.fromkeys(changed))


def _open_runs(engine: Engine, before: float) -> list[tuple[int, str]]:
    """Open runs that changed in the week before ``before``, newest first, at most ``RECONCILE_LIMIT``: older ones
    are past any round's deadline, and a start must not turn into thousands of requests."""
    closed = {*TERMINAL_STATUSES, RunStatusName.LOST}
    with read_session(engine) as session:
        # the open statuses present, named, so the status index reads only open runs (NOT IN read every run)
        present = [status for status in run_counts.runs_by_status(session.connection()) if status not in closed]
        if not present:
            return []
        query = (
            select(Run.task_id, Run.agent_id)
            .where(
                col(Run.status).in_(present),
                col(Run.updated_at) < before,
                col(Run.updated_at) >= before - RECONCILE_WINDOW_SECONDS,
            )
            .order_by(col(Run.updated_at).desc())
            .limit(RECONCILE_LIMIT)
        )
        rows = session.exec(query).all()
        return [(task_id, agent_id) for task_id, agent_id in rows]


def _apply(engine: Engine, status: RunStatus) -> bool:
    with write_connection(engine) as conn:
        stored = conn.execute(core_select(RUNS.c.sequence).where(RUNS.c.task_id == status.task_id)).scalar()
        if stored is not None and status.sequence <= stored:
            return False  # nothing newer than what the webhooks brought
        verdict, _ = apply_status(conn=conn, status=status, delivery_id=None, now=time.time())
        return verdict == Verdict.APPLIED


def _mark_lost(engine: Engine, task_id: int, message: str) -> bool:
    """Make an open run ``lost`` and close its pending rounds with the reason; a run already over is left as it
    is. True when the run changed."""
    now = time.time()
    reason = f"the platform no longer knows this run ({message})"
    closed_statuses = [*TERMINAL_STATUSES, RunStatusName.LOST]
    with write_connection(engine) as conn:
        moved = conn.execute(
            RUNS.update()
            .where(RUNS.c.task_id == task_id, RUNS.c.status.not_in(closed_statuses))
            .values(status=RunStatusName.LOST, updated_at=now, ended_at=func.coalesce(RUNS.c.ended_at, now))
        )
        if not moved.rowcount:
            return False
        closed = conn.execute(
            ROUNDS.update()
            .where(ROUNDS.c.task_id == task_id, ROUNDS.c.state == RoundState.PENDING)
            .values(state=RoundState.CLOSED, message=reason)
            .returning(ROUNDS.c.id)
        ).all()
        add_event(
            db=conn,
            task_id=task_id,
            kind=EventKind.LOST,
            summary=reason,
            at=now,
            round_id=closed[0].id if closed else None,
        )
    return True


def _release_claims(engine: Engine, before: float) -> list[int]:
    """A round left ``submitting`` with no submission waiting in the outbox goes back to ``pending`` so a
    person can send it (a round whose submission waits is the outbox's to finish). Only rounds claimed before
    ``before``: with several consoles on one PostgreSQL database, a round another live console claims while this
    one starts is that console's (its claim and its outbox item commit together, and it sends at once). Returns
    the task_ids of the rounds released."""
    waiting = core_select(OUTBOX.c.round_id).where(OUTBOX.c.state == OutboxState.PENDING)
    claimed_before = or_(ROUNDS.c.submitted_at.is_(None), ROUNDS.c.submitted_at < before)
    with write_connection(engine) as conn:
        released = conn.execute(
            ROUNDS.update()
            .where(
                ROUNDS.c.state == RoundState.SUBMITTING,
                ROUNDS.c.opened_at < before,
                claimed_before,
                ROUNDS.c.id.not_in(waiting),
            )
            .values(state=RoundState.PENDING, message="the console stopped while sending this round: send it again")
            .returning(ROUNDS.c.task_id)
        ).all()
    return sorted({row.task_id for row in released})
