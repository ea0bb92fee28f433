"""Runs: recording a start, reading runs and their timelines (applying a status is ``services.apply``).

All functions are blocking (SQLite); call them through ``asyncio.to_thread`` from async code.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from pydantic import BaseModel, Field, field_validator
from sqlalchemy import Engine, String, case, cast, false
from sqlalchemy.exc import IntegrityError, OperationalError
from sqlmodel import Session, col, func, select

from app import run_counts
from app.db import read_session, write_session
from app.errors import NotFound, PlatformError, SearchTooSlow
from app.models import Agent, Event, EventPublic, Round, Run, RunDetail, RunPublic, ToolCallRow, ToolResultRow
from app.platform.client import PlatformClient
from app.protocol import RunStatus, is_terminal
from app.services import run_search
from app.services.events import add_event
from app.services.reconcile import REFUSALS_TO_CHECK, check_after_refusal
from app.services.rounds import rounds_public
from app.states import EventKind, HandlerSet, RunStatusName


def record_run_started(
    *,
    engine: Engine,
    agent_id: str,
    task_id: int,
    string_inputs: dict[str, str],
    environment: str,
    started_by: str,
    at: float | None = None,
    handler_set: HandlerSet = HandlerSet.SAVED,
) -> None:
    """Record a run the console started at ``at`` (Unix seconds, when it asked the platform); a webhook that
    arrived first keeps its newer state, and the run's timeline still begins with the start. ``handler_set``:
    which handlers answer its rounds (``HandlerSet.DEMO`` for the demo's runs)."""
    now = time.time() if at is None else at
    with write_session(engine) as session:
        for attempt in range(2):
            run = session.get(Run, task_id, populate_existing=True, with_for_update=attempt > 0)
            if run is None:
                run = Run(
                    task_id=task_id, agent_id=agent_id, status=RunStatusName.QUEUED, created_at=now, updated_at=now
                )
            run.created_at = min(run.created_at, now)
            run.string_inputs = string_inputs
            run.environment = run.environment or environment
            run.started_by = started_by
            run.handler_set = handler_set
            try:
                with session.begin_nested():
                    session.add(run)
                    session.flush()  # the run before its timeline's first line (event.task_id's key)
                break
            except IntegrityError:
                # PostgreSQL: another console's webhook created the run meanwhile; update that one instead
                if attempt:
                    raise
        summary = f"started by {started_by} in {environment}"
        add_event(db=session, task_id=task_id, kind=EventKind.STARTED, summary=summary, at=now)


SORTABLE = ("task_id", "agent_id", "status", "environment", "round", "created_at", "updated_at")
WINDOWS = {"hour": 3600.0, "day": 86400.0, "week": 7 * 86400.0}


class RunFilter(BaseModel):
    """What the runs list shows: filters, free-text search, order and page. Every field is optional.

    ``q`` searches tool names, arguments and tool results of the run's rounds, and the run's result: a
    substring, case-folded (``run_search``: the trigram index, Unicode case folding, so "RENÉ" finds "René").
    A ``q`` of one or two characters has no trigram and is searched with ``LIKE`` over the same fields instead:
    still a substring, but case-folded for ASCII letters only. ``since`` is ``hour``, ``day`` or ``week`` (the
    run was created within it). A ``q`` holding U+0000 is refused (``ValidationError``): SQLite ends a search
    text there, so FTS5 failed on it and ``LIKE`` matched every run.
    """

    agent_id: str | None = None
    status: str | None = None
    environment: str | None = None
    since: str | None = Field(default=None, pattern="^(hour|day|week)$")
    q: str | None = Field(default=None, max_length=200)
    sort: str = Field(default="created_at", pattern="^(" + "|".join(SORTABLE) + ")$")
    descending: bool = True
    page: int = Field(default=1, ge=1, le=1_000_000)
    per_page: int = Field(default=50, ge=1, le=500)

    @field_validator("q")
    @classmethod
    def _no_nul(cls, q: str | None) -> str | None:
        if q is not None and "\x00" in q:
            raise ValueError("the search holds the character U+0000, which no stored text is searched by")
        return q


SEARCH_SECONDS = 2.0
"""The longest a runs search may take (page or count). FTS5's cost grows with the query's length times how often
its trigrams occur, so a query like 200 × "a" over long documents could hold a UI thread for seconds; past this
SQLite is interrupted (its progress handler), PostgreSQL cancels the statement (``statement_timeout`` for the
read's transaction), and the search answers ``SearchTooSlow`` (422)."""
PROGRESS_STEPS = 10_000
"""SQLite virtual machine steps between two looks at the clock during a search."""


@contextmanager
def _deadline(session: Session, where: RunFilter) -> Iterator[None]:
    """Interrupt ``session``'s queries after ``SEARCH_SECONDS`` when ``where`` has a text search; raises
    ``SearchTooSlow`` then."""
    if not where.q:
        yield
        return
    if session.get_bind().dialect.name != "sqlite":
        session.connection().exec_driver_sql(f"SET LOCAL statement_timeout = {max(1, round(SEARCH_SECONDS * 1000))}")
        try:
            yield
        except OperationalError as exc:
            if getattr(getattr(exc.orig, "diag", None), "sqlstate", None) != "57014":  # query_canceled
                raise
            raise _too_slow(where.q) from None
        return
    raw = session.connection().connection.dbapi_connection
    assert raw is not None
    end = time.monotonic() + SEARCH_SECONDS
    raw.set_progress_handler(lambda: int(time.monotonic() > end), PROGRESS_STEPS)
    try:
        yield
    except OperationalError:
        if time.monotonic() <= end:  # not the deadline's interrupt (which SQLite may report as "interrupted",
            raise  # or as the step it stopped, e.g. "vtable constructor failed")
        raise _too_slow(where.q) from None
    finally:
        raw.set_progress_handler(None, 0)


def _too_slow(q: str) -> SearchTooSlow:
    return SearchTooSlow(
        f"the search for {q[:40]!r} took longer than {SEARCH_SECONDS:g} s and was stopped: search for a "
        "shorter or more distinctive text"
    )


def search_runs(*, engine: Engine, where: RunFilter) -> tuple[list[RunPublic], int]:
    """One page of runs matching ``where``, and how many match in all (for server-side pagination): ``list_runs``
    then ``count_runs``."""
    return list_runs(engine=engine, where=where), count_runs(engine=engine, where=where)


def list_runs(*, engine: Engine, where: RunFilter) -> list[RunPublic]:
    """One page of runs matching ``where``, in its order (ties newest task_id first). It never counts: the
    default order reads the ``created_at`` index from its end and stops after the page. A search matching few
    runs looks each of them up and sorts them; one matching many (``run_search.is_broad``) reads the order's
    index instead and keeps the matching runs, so neither costs a lookup per run of 100,000."""
    column = getattr(Run, where.sort)
    order = [col(column).desc() if where.descending else col(column).asc(), col(Run.task_id).desc()]
    start = (where.page - 1) * where.per_page
    with read_session(engine) as session, _deadline(session, where):
        dialect = session.get_bind().dialect.name
        broad = (
            bool(where.q)
            and run_search.uses_index(where.q or "", dialect)
            and run_search.is_broad(session, where.q or "")
        )
        conditions = _conditions(where, dialect, by_index_order=broad)
        rows = session.exec(select(Run).where(*conditions).order_by(*order).offset(start).limit(where.per_page)).all()
        names = _agent_names(session)
        return [_run_public(row, names) for row in rows]


def count_runs(*, engine: Engine, where: RunFilter) -> int:
    """How many runs match ``where`` in all (page and order aside). Without a filter, or with only a status,
    the total is read from ``app.run_counts`` (a row per status, kept by triggers) rather than counting every
    run."""
    with read_session(engine) as session, _deadline(session, where):
        if not (where.agent_id or where.environment or where.since or where.q):
            by_status = run_counts.runs_by_status(session.connection())
            return by_status.get(where.status, 0) if where.status else sum(by_status.values())
        conditions = _conditions(where, session.get_bind().dialect.name)
        return session.exec(select(func.count()).select_from(Run).where(*conditions)).one()


def _conditions(where: RunFilter, dialect: str, *, by_index_order: bool = False) -> list[Any]:
    conditions: list[Any] = []
    if where.agent_id:
        conditions.append(Run.agent_id == where.agent_id)
    if where.status:
        conditions.append(Run.status == where.status)
    if where.environment:
        conditions.append(Run.environment == where.environment)
    if where.since:
        conditions.append(col(Run.created_at) >= time.time() - WINDOWS[where.since])
    if where.q and run_search.uses_index(where.q, dialect):
        # ``task_id + 0`` cannot be looked up by key, so SQLite reads the order's index and probes the matches
        task_id = col(Run.task_id) + 0 if by_index_order else col(Run.task_id)
        conditions.append(task_id.in_(run_search.matching_task_ids(where.q, dialect)))
    elif where.q and "\x00" in where.q:  # SQLite's string functions end a text at NUL: it would match every run
        conditions.append(false())
    elif where.q:
        conditions.append(like_condition(where.q))
    return conditions


def like_condition(q: str) -> Any:
    """The search for a query too short for trigrams: ``LIKE`` over the same fields (ASCII case folding only).
    SQLite only: PostgreSQL searches every query through ``run_search_pg``."""
    pattern = "%" + q.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
    in_calls = (
        select(Round.task_id)
        .join(ToolCallRow, col(ToolCallRow.round_id) == col(Round.id))
        .where(
            col(ToolCallRow.name).ilike(pattern, escape="\\")
            | cast(col(ToolCallRow.arguments), String).ilike(pattern, escape="\\")
            | col(ToolCallRow.arguments_text).ilike(pattern, escape="\\")
        )
    )
    in_results = (
        select(Round.task_id)
        .join(ToolResultRow, col(ToolResultRow.round_id) == col(Round.id))
        .where(col(ToolResultRow.output).ilike(pattern, escape="\\"))
    )
    return (
        col(Run.task_id).in_(in_calls) | col(Run.task_id).in_(in_results) | _result_text().ilike(pattern, escape="\\")
    )


def _result_text() -> Any:
    """The run's result as text for a search, as the search index reads it (``run_search._RESULT_TEXT``): a value
    that is not JSON is read as it is, so one such row never makes every search fail."""
    result = col(Run.result)
    return case(
        (func.json_valid(result) == 1, cast(func.json_extract(result, "$"), String)), else_=cast(result, String)
    )


def get_run(*, engine: Engine, task_id: int) -> RunDetail:
    """One run with its rounds (tool calls and results) and its events in time order; raises ``NotFound``."""
    with read_session(engine) as session:
        run = session.get(Run, task_id)
        if run is None:
            raise NotFound(f"no run with task_id {task_id}: start one or wait for its first delivery")
        rounds = session.exec(select(Round).where(Round.task_id == task_id).order_by(col(Round.round))).all()
        events = session.exec(
            select(Event)
            .where(Event.task_id == task_id, Event.kind != EventKind.REFUSED)  # older versions' unverified lines
            .order_by(col(Event.at), col(Event.id))
        ).all()
        return RunDetail(
            **_run_public(run, _agent_names(session)).model_dump(),
            rounds=rounds_public(session, rounds),
            events=[EventPublic.model_validate(event, from_attributes=True) for event in events],
        )


def run_duration(run: RunDetail) -> float | None:
    """Seconds from the run's first event to its end (``ended_at``: its first terminal status, or lost); for a
    run still open, to its latest event. What happens after the end (a late or history delivery, a replay line,
    a replay started from it) does not count. ``None`` without events."""
    if not run.events:
        return None
    end = run.ended_at
    if end is None and (is_terminal(run.status) or run.status == RunStatusName.LOST):
        end = run.updated_at  # a run ended before ``ended_at`` was kept: its last applied change
    if end is None:
        end = run.events[-1].at
    return max(0.0, end - run.events[0].at)


def _agent_names(session: Session) -> dict[str, str]:
    return {agent_id: name for agent_id, name in session.exec(select(Agent.agent_id, Agent.name)).all()}


def _run_public(row: Run, names: dict[str, str]) -> RunPublic:
    return RunPublic.model_validate(row, from_attributes=True).model_copy(
        update={"agent_name": names.get(row.agent_id)}
    )


async def cancel_run(*, engine: Engine, client: PlatformClient, agent_id: str, task_id: int) -> RunStatus:
    """Ask the platform to cancel a run; the change arrives by webhook. Raises ``PlatformError`` (409 when the
    run is already over), after asking the platform once about the run on a 404 or 409 and applying what it
    says (``reconcile.check_after_refusal``: a run the console still shows open had ended, or is gone)."""
    try:
        return await client.cancel(agent_id=agent_id, task_id=task_id)
    except PlatformError as exc:
        if exc.status in REFUSALS_TO_CHECK:
            await check_after_refusal(engine=engine, client=client, task_id=task_id, agent_id=agent_id, refusal=exc)
        raise
