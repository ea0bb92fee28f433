"""Rounds: listing pending rounds and submitting a round's tool results.

One submission per round, holding exactly the round's set of tool call ids
(contract, "Tool results"). ``submit_round`` checks that before anything is
sent, claims the round so a second tab or script cannot send it twice, and
sends one ``send_tool_responses`` with an ``Idempotency-Key`` derived from the
round, so a retry never answers twice.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence

from sqlalchemy import Engine
from sqlmodel import Session, col, select

from app.db import read_session, write_session
from app.errors import (
    NotFound,
    PlatformError,
    PlatformRequestError,
    PlatformUnreachable,
    ResultsMismatch,
    RoundClosed,
    TooldeskError,
)
from app.models import Event, Round, RoundPublic, ToolCall, ToolCallPublic, ToolResult, ToolResultPublic
from app.platform.client import PlatformClient
from app.protocol import ToolResponses
from app.protocol import ToolResult as ToolResultIn


def list_pending_rounds(*, engine: Engine) -> list[RoundPublic]:
    """Rounds waiting for an answer (state ``pending``), oldest first."""
    with read_session(engine) as session:
        rows = session.exec(
            select(Round).where(Round.state == "pending").order_by(col(Round.opened_at), col(Round.id))
        ).all()
        return [round_public(session, row) for row in rows]


def get_round(*, engine: Engine, round_id: int) -> RoundPublic:
    """One round; raises ``NotFound``."""
    with read_session(engine) as session:
        row = session.get(Round, round_id)
        if row is None:
            raise NotFound(f"no round with id {round_id}")
        return round_public(session, row)


def round_public(session: Session, row: Round) -> RoundPublic:
    """A round row with its calls and results, as the API and UI show it."""
    calls = session.exec(select(ToolCall).where(ToolCall.round_id == row.id).order_by(col(ToolCall.position))).all()
    results = session.exec(select(ToolResult).where(ToolResult.round_id == row.id).order_by(col(ToolResult.id))).all()
    return RoundPublic(
        **row.model_dump(),
        tool_calls=[ToolCallPublic(tool_call_id=c.tool_call_id, name=c.name, arguments=c.arguments) for c in calls],
        results=[ToolResultPublic.model_validate(r, from_attributes=True) for r in results],
    )


async def submit_round(
    *, engine: Engine, client: PlatformClient, round_id: int, results: Sequence[ToolResultIn], answered_by: str
) -> RoundPublic:
    """Send a round's results to the platform once.

    ``results``: one per tool call of the round, in any order. Raises
    ``ResultsMismatch`` (422) naming missing, unknown or repeated ids before
    anything is sent; ``RoundClosed`` (409) when the round is not pending (another
    tab or script answered it, or it expired); ``PlatformError`` with the
    platform's status and message when it refuses (409 ``not_awaiting``, 410
    ``expired``, 422 ``tool_call_mismatch``); ``PlatformUnreachable`` when it does
    not answer, in which case the round stays pending so it can be sent again.
    """
    claimed = await asyncio.to_thread(_claim, engine, round_id, list(results))
    body = ToolResponses(round=claimed.round, results=list(results))
    key = f"tooldesk-{claimed.task_id}-round-{claimed.round}"
    try:
        await client.send_tool_responses(
            agent_id=claimed.agent_id, task_id=claimed.task_id, body=body, idempotency_key=key
        )
    except PlatformError as exc:
        await asyncio.to_thread(_refused, engine, round_id, exc)
        raise
    except BaseException:  # cancelled or a bug: never leave the round claimed but unsent
        await asyncio.shield(asyncio.to_thread(_release, engine, round_id))
        raise
    return await asyncio.to_thread(_acknowledged, engine, round_id, list(results), answered_by)


def check_results(calls: Sequence[str], results: Sequence[ToolResultIn]) -> None:
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
    """True when a failed submission can be fixed and sent again: our own 422 checks, the
    platform's 422 ``tool_call_mismatch``, a 5xx or no answer. A 404, 409 or 410 closes the round."""
    return (
        isinstance(exc, (ResultsMismatch, PlatformUnreachable, PlatformRequestError))
        or exc.status == 422
        or (exc.status >= 500)
    )


def _claim(engine: Engine, round_id: int, results: list[ToolResultIn]) -> Round:
    with write_session(engine) as session:
        row = session.get(Round, round_id)
        if row is None:
            raise NotFound(f"no round with id {round_id}")
        if row.state != "pending":
            who = f" by {row.answered_by}" if row.answered_by else ""
            raise RoundClosed(f"round {row.round} of task {row.task_id} is {row.state}{who}; nothing was sent")
        calls = session.exec(
            select(ToolCall.tool_call_id).where(ToolCall.round_id == round_id).order_by(col(ToolCall.position))
        ).all()
        check_results(list(calls), results)
        row.state = "submitting"
        row.message = ""
        session.add(row)
        return row


def _acknowledged(engine: Engine, round_id: int, results: list[ToolResultIn], answered_by: str) -> RoundPublic:
    now = time.time()
    with write_session(engine) as session:
        row = session.get(Round, round_id)
        assert row is not None
        row.state = "submitted"
        row.answered_by = answered_by
        row.submitted_at = now
        row.acknowledged_at = now
        session.add(row)
        for result in results:
            session.add(
                ToolResult(
                    round_id=round_id,
                    tool_call_id=result.tool_call_id,
                    output=result.output,
                    is_error=result.is_error,
                    answered_by=answered_by,
                    created_at=now,
                )
            )
        errors = sum(result.is_error for result in results)
        note = f", {errors} as error" if errors else ""
        session.add(
            Event(
                task_id=row.task_id,
                at=now,
                kind="round_submitted",
                round_id=round_id,
                summary=f"round {row.round} answered by {answered_by}: {len(results)} result(s){note}",
            )
        )
        session.flush()
        return round_public(session, row)


def _refused(engine: Engine, round_id: int, exc: PlatformError) -> None:
    now = time.time()
    with write_session(engine) as session:
        row = session.get(Round, round_id)
        assert row is not None
        if leaves_round_pending(exc):
            row.state = "pending"
        elif exc.status == 410:
            row.state = "expired"
        else:
            row.state = "closed"
        row.message = f"platform answered {exc.status} {exc.code}: {exc.message}"
        session.add(row)
        session.add(
            Event(
                task_id=row.task_id,
                at=now,
                kind="round_refused",
                round_id=round_id,
                summary=f"round {row.round} not accepted: {row.message}",
            )
        )


def _release(engine: Engine, round_id: int) -> None:
    with write_session(engine) as session:
        row = session.get(Round, round_id)
        if row is not None and row.state == "submitting":
            row.state = "pending"
            session.add(row)
