"""The inbox's view of pending rounds: filter by agent and tool, order, and each card's context.

``arrange_rounds`` filters and orders rounds already read (no query); ``load_contexts`` reads, for the cards a
page is about to draw, the run's inputs and the earlier rounds of the same run (their calls, the results sent and
who answered) in one query for all of them. Earlier rounds are over by the time a later round is pending, so a
card's context never changes: a page reads it once, when the card first appears, not on every refresh.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, Field
from sqlalchemy import Engine, and_
from sqlmodel import Session, col, select

from app.db import read_session
from app.models import Agent, Round, RoundPublic, Run, ToolCallRow, ToolResultRow
from app.protocol import deadline_seconds

BATCH = 500
"""Task ids per query (SQLite bounds a query's parameters)."""


class InboxSort(StrEnum):
    """How the inbox orders its cards."""

    OLDEST = "oldest"
    """Opened first, first."""
    EXPIRING = "expiring"
    """Soonest ``expires_at`` first; rounds without one (or with one that does not parse) last, oldest first."""


class InboxView(BaseModel):
    """What the inbox shows, as kept in its URL (``/?agent=<agent_id>&tool=<tool name>&sort=expiring``).

    ``agent``: only rounds of that agent; ``tool``: only rounds with at least one call of that tool.
    """

    agent: str | None = Field(default=None, max_length=200)
    tool: str | None = Field(default=None, max_length=200)
    sort: InboxSort = InboxSort.OLDEST


def arrange_rounds(rounds: Iterable[RoundPublic], view: InboxView) -> list[RoundPublic]:
    """The rounds ``view`` shows, in its order (ties: opened first, then by id)."""
    shown = [
        item
        for item in rounds
        if (not view.agent or item.agent_id == view.agent)
        and (not view.tool or any(call.name == view.tool for call in item.tool_calls))
    ]
    if view.sort == InboxSort.EXPIRING:
        return sorted(shown, key=lambda item: (_deadline(item.expires_at), item.opened_at, item.id))
    return sorted(shown, key=lambda item: (item.opened_at, item.id))


def _deadline(expires_at: str | None) -> float:
    """``expires_at`` as Unix seconds; infinity when missing or not ISO-8601 (sorted last)."""
    seconds = deadline_seconds(expires_at)
    return seconds if seconds is not None else float("inf")


@dataclass
class EarlierCall:
    """One call of an earlier round and the result sent for it (``output`` is ``None`` when none was sent)."""

    tool_call_id: str
    name: str
    arguments: dict[str, Any]
    arguments_text: str | None = None  # the text as sent, when it is not a JSON object (case C10)
    output: str | None = None
    is_error: bool = False
    answered_by: str | None = None


@dataclass
class EarlierRound:
    """A round of the same run before the pending one: its state, who answered it, its calls in order."""

    round: int
    state: str
    answered_by: str | None
    calls: list[EarlierCall] = field(default_factory=list)


@dataclass
class RoundContext:
    """What a card shows beside its calls: the run's ``inputs`` (as it was started; empty when the console did
    not start it), the agent's ``labels`` of those inputs by key (from the last agent sync), and its ``earlier``
    rounds, first round first."""

    inputs: dict[str, str] = field(default_factory=dict)
    labels: dict[str, str] = field(default_factory=dict)
    earlier: list[EarlierRound] = field(default_factory=list)


def load_contexts(*, engine: Engine, rounds: Sequence[RoundPublic]) -> dict[int, RoundContext]:
    """The context of each of ``rounds`` by round id, in one query for every ``BATCH`` runs (runs left-joined to
    their other rounds, their calls and the results sent), however many cards there are, and one for the agents'
    input labels."""
    if not rounds:
        return {}
    with read_session(engine) as session:
        return contexts_in(session, rounds)


def contexts_in(session: Session, rounds: Sequence[RoundPublic]) -> dict[int, RoundContext]:
    """``load_contexts`` in an open read session (``app.db.read_session``)."""
    contexts: dict[int, RoundContext] = {}
    by_task: dict[int, list[RoundPublic]] = {}
    for item in rounds:
        by_task.setdefault(item.task_id, []).append(item)
        contexts[item.id] = RoundContext()
    tasks = list(by_task)
    if not tasks:
        return contexts
    for start in range(0, len(tasks), BATCH):
        batch = tasks[start : start + BATCH]
        query = (
            select(Run, Round, ToolCallRow, ToolResultRow)
            .outerjoin(Round, col(Round.task_id) == col(Run.task_id))
            .outerjoin(ToolCallRow, col(ToolCallRow.round_id) == col(Round.id))
            .outerjoin(
                ToolResultRow,
                and_(
                    col(ToolResultRow.round_id) == col(Round.id),
                    col(ToolResultRow.tool_call_id) == col(ToolCallRow.tool_call_id),
                ),
            )
            .where(col(Run.task_id).in_(batch))
            .order_by(col(Run.task_id), col(Round.round), col(ToolCallRow.position), col(ToolResultRow.id))
        )
        for run, round_row, call, result in session.exec(query):
            for item in by_task[run.task_id]:
                contexts[item.id].inputs = dict(run.string_inputs or {})
                _add(contexts[item.id], item.round, round_row, call, result)
    agent_ids = list({item.agent_id for item in rounds})
    specs = dict(session.exec(select(Agent.agent_id, Agent.inputs).where(col(Agent.agent_id).in_(agent_ids))).all())
    for item in rounds:
        labels = specs.get(item.agent_id) or []
        contexts[item.id].labels = {str(spec.get("key")): str(spec.get("label") or spec.get("key")) for spec in labels}
    return contexts


def _add(
    context: RoundContext,
    current: int,
    round_row: Round | None,
    call: ToolCallRow | None,
    result: ToolResultRow | None,
) -> None:
    """Fold one joined row into ``context`` (rows come ordered by round, then call position)."""
    if round_row is None or round_row.round >= current:
        return
    if not context.earlier or context.earlier[-1].round != round_row.round:
        answerer = round_row.answerer()
        context.earlier.append(
            EarlierRound(
                round=round_row.round,
                state=round_row.state,
                answered_by=answerer.text if answerer is not None else None,
            )
        )
    if call is None:
        return
    calls = context.earlier[-1].calls
    if not calls or calls[-1].tool_call_id != call.tool_call_id:
        calls.append(
            EarlierCall(
                tool_call_id=call.tool_call_id,
                name=call.name,
                arguments=call.arguments,
                arguments_text=call.arguments_text if call.arguments_problem is not None else None,
            )
        )
    if result is not None:
        calls[-1].output = result.output
        calls[-1].is_error = result.is_error
        calls[-1].answered_by = result.answerer().text
