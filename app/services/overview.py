"""The overview: how many runs in which status, how fast rounds are answered and by whom, what the webhook took.

Counted in SQL (``GROUP BY``; minute buckets by integer division of the Unix time); only the latency
percentiles are computed here, in Python, over a bounded sample: the newest ``LATENCY_SAMPLE`` rounds submitted
in the last 24 hours. There is no fallback to older rounds: every window on the page is relative to now, so a
quiet day shows empty charts rather than last week's numbers.

Blocking (SQLite or PostgreSQL): call through ``asyncio.to_thread`` from async code.
"""

from __future__ import annotations

import statistics
import time
from collections import defaultdict

from pydantic import BaseModel, Field
from sqlalchemy import Engine, Integer, case, cast
from sqlalchemy.sql.expression import ColumnElement, UnaryExpression
from sqlalchemy.sql.operators import custom_op
from sqlmodel import Session, col, func, select

from app import run_counts
from app.db import read_session
from app.models import Delivery, Round, ToolResultRow
from app.protocol import KNOWN_STATUSES
from app.states import ACCEPTED_VERDICTS, REFUSED_VERDICTS, AnswererKind, RoundState, RunStatusName

ANSWERERS = (
    AnswererKind.PERSON,
    AnswererKind.STATIC,
    AnswererKind.RULES,
    AnswererKind.PYTHON,
    AnswererKind.REPLAY,
    AnswererKind.FALLBACK,
)
"""The kinds a tool result can have, in the order the latency chart lists them."""
MINUTES = 60
HOUR = 3600.0
DAY = 86400.0
LATENCY_SAMPLE = 5000
_DELIVERY = Delivery.__table__  # type: ignore[attr-defined]
_ROUND = Round.__table__  # type: ignore[attr-defined]
_PLAIN_STATE = UnaryExpression(_ROUND.c.state, operator=custom_op("+"), type_=_ROUND.c.state.type)
_SUBMITTED: ColumnElement[bool] = _PLAIN_STATE == RoundState.SUBMITTED
"""``+state``: the unary plus keeps SQLite from reading every submitted round through the state index (they are
nearly all of them) instead of the window's range of the ``submitted_at`` index."""
_SUBMITTED_PG: ColumnElement[bool] = _ROUND.c.state == RoundState.SUBMITTED
"""PostgreSQL has no unary plus for text, and its planner weighs the two indexes by their statistics."""


def _submitted(session: Session) -> ColumnElement[bool]:
    return _SUBMITTED if session.get_bind().dialect.name == "sqlite" else _SUBMITTED_PG


class MinuteCount(BaseModel):
    """Rounds submitted in one minute, by who answered."""

    minute: int = Field(description="the minute's start, Unix seconds")
    person: int = Field(description="answered by a person or a script through the API")
    handlers: int = Field(description="submitted by handlers in auto mode or by a replay")


class Latency(BaseModel):
    """Seconds from a round opening to its submission, for the rounds one kind of answerer took part in."""

    answerer: AnswererKind = Field(description="who answered the round's tool results")
    rounds: int
    p50_s: float
    p95_s: float


class Overview(BaseModel):
    """Every number the Overview page shows. Windows end at ``at`` (Unix seconds)."""

    at: float
    runs_total: int
    runs_awaiting_person: int = Field(description="runs with a pending round")
    deliveries_last_hour: int = Field(description="every webhook request of the last hour, refused ones included")
    refused_last_hour: int
    runs_by_status: dict[str, int] = Field(description="every status present: known ones in order, then others")
    rounds_per_minute: list[MinuteCount] = Field(description="the last 60 minutes, oldest first, zeros included")
    latency: list[Latency] = Field(description="last 24 hours, newest 5,000 rounds; answerers with rounds only")
    deliveries_by_verdict: dict[str, int] = Field(description="last 24 hours: the refusals, then the rest")


def overview(*, engine: Engine, now: float | None = None) -> Overview:
    """The overview as of ``now`` (default: the current time)."""
    at = time.time() if now is None else now
    with read_session(engine) as session:
        by_status = _runs_by_status(session)
        awaiting = session.exec(
            select(func.count(func.distinct(Round.task_id))).where(Round.state == RoundState.PENDING)
        ).one()
        day, hour = _deliveries(session, at)
        return Overview(
            at=at,
            runs_total=sum(by_status.values()),
            runs_awaiting_person=awaiting,
            deliveries_last_hour=sum(hour.values()),
            refused_last_hour=sum(hour.get(verdict, 0) for verdict in REFUSED_VERDICTS),
            runs_by_status=by_status,
            rounds_per_minute=_rounds_per_minute(session, at),
            latency=_latency(session, at),
            deliveries_by_verdict=day,
        )


def _runs_by_status(session: Session) -> dict[str, int]:
    counts = run_counts.runs_by_status(session.connection())
    order = [*KNOWN_STATUSES, RunStatusName.LOST]
    known = {status: counts.pop(status) for status in order if status in counts}
    return known | dict(sorted(counts.items()))


def _deliveries(session: Session, at: float) -> tuple[dict[str, int], dict[str, int]]:
    """Counts by verdict over the last 24 hours (every verdict, zeros included) and over the last hour: a range
    of the ``received_at`` index, which holds the verdict too, so only the window's index entries are read."""
    in_hour = func.sum(case((col(Delivery.received_at) >= at - HOUR, 1), else_=0))
    rows = session.exec(
        select(_DELIVERY.c.verdict, func.count(), in_hour)
        .where(col(Delivery.received_at) >= at - DAY, col(Delivery.received_at) <= at)
        .group_by(_DELIVERY.c.verdict)
    ).all()
    day: dict[str, int] = dict.fromkeys((*REFUSED_VERDICTS, *ACCEPTED_VERDICTS), 0)
    hour: dict[str, int] = {}
    for verdict, count, recent in rows:
        day[verdict] = count
        hour[verdict] = recent or 0
    return day, hour


def _rounds_per_minute(session: Session, at: float) -> list[MinuteCount]:
    last = int(at // 60)
    first = last - MINUTES + 1
    minute = cast(col(Round.submitted_at) / 60, Integer)  # SQLite's CAST truncates; PostgreSQL's rounds
    if session.get_bind().dialect.name != "sqlite":
        minute = cast(func.floor(col(Round.submitted_at) / 60), Integer)
    automated = col(Round.answered_kind) != AnswererKind.PERSON
    by_handlers = func.sum(case((automated, 1), else_=0))
    rows = session.exec(
        select(minute, func.count(), by_handlers)
        .where(
            _submitted(session),
            col(Round.submitted_at) >= first * 60,
            col(Round.submitted_at) < (last + 1) * 60,
        )
        .group_by(minute)
    ).all()
    found = {int(bucket): (count - (auto or 0), auto or 0) for bucket, count, auto in rows}
    return [
        MinuteCount(minute=bucket * 60, person=found.get(bucket, (0, 0))[0], handlers=found.get(bucket, (0, 0))[1])
        for bucket in range(first, last + 1)
    ]


def _latency(session: Session, at: float) -> list[Latency]:
    """p50 and p95 per answerer kind. A round counts once for each kind among its tool results' ``answered_kind``
    (a person who answered beside an auto handler puts the round in both)."""
    newest = (
        select(Round.id)
        .where(_submitted(session), col(Round.submitted_at) >= at - DAY, col(Round.submitted_at) <= at)
        .order_by(col(Round.submitted_at).desc())
        .limit(LATENCY_SAMPLE)
    )
    rows = session.exec(
        select(Round.id, Round.opened_at, Round.submitted_at, ToolResultRow.answered_kind)
        .join(ToolResultRow, col(ToolResultRow.round_id) == col(Round.id))
        .where(col(Round.id).in_(newest.scalar_subquery()))
        .distinct()
    ).all()
    waits: dict[AnswererKind, dict[int | None, float]] = defaultdict(dict)
    for round_id, opened_at, submitted_at, kind in rows:
        waits[AnswererKind(kind)][round_id] = max(0.0, (submitted_at or opened_at) - opened_at)
    found = []
    for kind in ANSWERERS:
        if kind in waits:
            ordered = sorted(waits[kind].values())
            p50, p95 = _percentiles(ordered)
            found.append(
                Latency(
                    answerer=kind,
                    rounds=len(ordered),
                    p50_s=round(p50, 3),
                    p95_s=round(p95, 3),
                )
            )
    return found


def _percentiles(values: list[float]) -> tuple[float, float]:
    """The median and the 95th percentile of ``values``, linear between the closest ranks (``'inclusive'``, as
    numpy's default); a single value is both."""
    if len(values) < 2:
        return (values[0], values[0]) if values else (0.0, 0.0)
    cuts = statistics.quantiles(values, n=20, method="inclusive")
    return cuts[9], cuts[18]
