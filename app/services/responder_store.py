"""The responder's database work, blocking (run on the handlers' pool): one read before the handlers answer, one
write after.

A round answered in auto mode costs two trips to a thread and one commit on the console's side: ``plan_rounds``
reads every pending round of a task with what its handlers need (one read transaction), and ``store_answers``
stores the drafts and, when every call of the round now has an auto (or replay) draft, claims the round and
stores its outbox item in the same transaction (as ``app.services.rounds.claim_round`` does), so the submission
is durable before it is sent and nothing else can send the round meanwhile.

Both run their statements through the driver's cursor (``app.services.fast_sql``), a few microseconds each,
rather than through SQLAlchemy's ORM, which cost about 0.4 ms of CPU per statement here: this is the auto round
trip's path (issue 10's goal of 5 ms from a round opening to the platform's acknowledgement). The ORM is still
used for what is rare: whether a cassette answers the run, and a sweep's handlers.

``plan_and_store`` does both in one trip to a thread for the rounds whose answers need no waiting: every call to
answer has a static handler without latency or faults (``answer_at_once``), a pure function of its spec. So a
round of static handlers costs one trip to a thread, not two, and nothing else on the event loop runs between its
read and its write.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

from pydantic import ValidationError
from sqlalchemy import Engine
from sqlalchemy.engine import Dialect
from sqlmodel import Session

from app.answerers import AUTO, Answerer
from app.db import read_session, write_session
from app.handlers.faults import Behaviour
from app.handlers.run import CallAnswer, CallInput
from app.handlers.static import StaticSpec, answer_static
from app.models import Handler, OutboxItem, Run
from app.services import responder_reads as reads
from app.services.fast_sql import Cursor, cursor_of, insert_row, read_row, update_row
from app.services.outbox import first_attempt_at
from app.services.playback import plays_cassette
from app.services.rounds import submission
from app.states import (
    AnswererKind,
    DraftMode,
    HandlerKind,
    HandlerSet,
    RoundState,
)


@dataclass(frozen=True)
class RoundWork:
    """What the responder does for one pending round: ``replay`` rounds take the original run's answers
    (``app.services.replay``); else ``todo`` are the calls its non-manual ``handlers`` (by tool name, of
    ``handler_set``) still have to answer, and ``ready`` says the round could be submitted as it is."""

    round_id: int
    task_id: int
    replay: bool = False
    todo: list[CallInput] = field(default_factory=list)
    handlers: dict[str, Handler] = field(default_factory=dict)
    handler_set: HandlerSet = HandlerSet.SAVED
    ready: bool = False


def plan_rounds(
    engine: Engine, task_id: int | None, round_id: int | None = None, *, replays: bool = True
) -> list[RoundWork]:
    """The pending rounds of ``task_id`` (every task's when ``None``; only ``round_id`` when given), oldest first,
    each with its work (none for a round no handler answers: its fallback timer is still set). ``replays=False``
    plans a replayed round for its handlers (the replay diverged)."""
    where: list[str] = ["r.state = ?"]
    params: list[Any] = [RoundState.PENDING.value]
    for column, value in (("r.task_id", task_id), ("r.id", round_id)):
        if value is not None:
            where.append(f"{column} = ?")
            params.append(value)
    with read_session(engine) as session:
        conn = session.connection()
        cursor = cursor_of(conn)
        rows = cursor.execute(f"{_PENDING} WHERE {' AND '.join(where)} ORDER BY r.id", params).fetchall()
        return [_plan(session, cursor, conn.dialect, _Pending(*row), replays) for row in rows]


_PENDING = (
    'SELECT r.id, r.task_id, r.agent_id, r."round", run.handler_set, run.replay_of, run.replay_until,'
    " EXISTS (SELECT 1 FROM cassette_run WHERE cassette_run.task_id = r.task_id)"
    " OR EXISTS (SELECT 1 FROM cassette WHERE cassette.agent_id = r.agent_id AND cassette.playing)"
    ' FROM "round" r LEFT JOIN run ON run.task_id = r.task_id'
)
"""A pending round with what ``_plan`` needs of its run, and whether a cassette might answer it (a bound one, or
a playing one of its agent's: ``app.services.playback.plays_cassette`` decides)."""


@dataclass(frozen=True)
class _Pending:
    round_id: int
    task_id: int
    agent_id: str
    round: int
    handler_set: str | None
    replay_of: int | None
    replay_until: int | None
    cassette: bool


@dataclass(frozen=True)
class Stored:
    """A round ``plan_and_store`` answered and stored: its outbox ``item`` when the round was claimed for sending."""

    item: OutboxItem | None


def plan_and_store(engine: Engine, task_id: int) -> list[tuple[RoundWork, Stored | None]]:
    """``plan_rounds(engine, task_id)``, then ``store_answers`` at once for each round ``answer_at_once`` answers;
    per pending round its work and, when it was stored here, what ``store_answers`` returned (``None``: left to the
    caller, whose handlers take time)."""
    done: list[tuple[RoundWork, Stored | None]] = []
    for work in plan_rounds(engine, task_id):
        answers = answer_at_once(work)
        done.append((work, None if answers is None else Stored(store_answers(engine, work, answers))))
    return done


def answer_at_once(work: RoundWork) -> list[CallAnswer] | None:
    """The answers to ``work.todo`` when each is a static handler's with no latency and no faults (exactly what
    ``app.handlers.run.answer_call`` would answer, with nothing to wait for), else ``None``: a replay, nothing to
    answer, another kind, latency or faults, or settings that do not validate (``answer_call`` words those)."""
    if work.replay or not work.todo:
        return None
    answers: list[CallAnswer] = []
    for call in work.todo:
        handler = work.handlers[call.tool_name]
        started = time.monotonic()
        if handler.kind != HandlerKind.STATIC or not _instant(handler.behaviour):
            return None
        try:
            answer = answer_static(StaticSpec.model_validate(handler.spec))
        except ValidationError:
            return None
        answers.append(CallAnswer(answer=answer, duration_ms=(time.monotonic() - started) * 1000))
    return answers


def _instant(behaviour: dict[str, Any] | None) -> bool:
    try:
        rules = Behaviour.model_validate(behaviour or {})
    except ValidationError:
        return False
    return rules.latency_ms == 0 and not rules.latency_max_ms and rules.fail_probability == 0


def _plan(session: Session, cursor: Cursor, dialect: Dialect, row: _Pending, replays: bool) -> RoundWork:
    if replays and row.replay_of is not None and row.round <= (row.replay_until or 0):
        return RoundWork(round_id=row.round_id, task_id=row.task_id, replay=True)
    if replays and row.cassette and (run := session.get(Run, row.task_id)) is not None and plays_cassette(session, run):
        return RoundWork(round_id=row.round_id, task_id=row.task_id, replay=True)  # answered like a replay's rounds
    handler_set = HandlerSet(row.handler_set or HandlerSet.SAVED)
    handlers = reads.handlers(session, cursor, dialect, row.agent_id, handler_set, row.task_id)
    if not handlers:
        return RoundWork(row.round_id, row.task_id, handler_set=handler_set)
    calls = [
        read_row(dialect, reads.CALL, reads.CALL_COLUMNS, call)
        for call in cursor.execute(
            f"SELECT {', '.join(reads.CALL_COLUMNS)} FROM tool_call WHERE round_id = ? ORDER BY position",
            (row.round_id,),
        ).fetchall()
    ]
    drafted = set(reads.drafts(cursor, dialect, row.round_id))
    missing = [call for call in calls if call["name"] in handlers and call["tool_call_id"] not in drafted]
    if not missing:
        ready = reads.ready(cursor, dialect, row.round_id, handlers) is not None
        return RoundWork(row.round_id, row.task_id, handlers=handlers, handler_set=handler_set, ready=ready)
    results = reads.earlier_results(cursor, dialect, row.task_id)
    todo = [
        CallInput(
            tool_call_id=call["tool_call_id"],
            tool_name=call["name"],
            args=call["arguments"],
            agent_id=row.agent_id,
            task_id=row.task_id,
            round=row.round,
            results=results,
            args_text=call["arguments_text"],
            args_problem=call["arguments_problem"],
        )
        for call in missing
    ]
    return RoundWork(row.round_id, row.task_id, todo=todo, handlers=handlers, handler_set=handler_set)


def store_answers(engine: Engine, work: RoundWork, answers: list[CallAnswer]) -> OutboxItem | None:
    """Store the handlers' answers to ``work.todo`` as drafts (a call drafted meanwhile keeps its first draft) and,
    when the round is still pending and every call now has an auto or replay draft, claim the round with them:
    one transaction. Returns the outbox item to deliver, else ``None``, also when another console holds the
    round (PostgreSQL's ``SKIP LOCKED``: it is storing or claiming the same round, and its answers stand).

    The claim is ``app.services.rounds.claim_round``'s, in a few statements of SQL through the driver's cursor
    (``app.services.fast_sql``): the round's row locked, its drafts and calls read, the drafts inserted, the round
    marked ``submitting``, an earlier refused submission deleted and the new one inserted."""
    now = time.time()
    with write_session(engine) as session:
        conn = session.connection()
        cursor, dialect = cursor_of(conn), conn.dialect
        lock = " FOR UPDATE OF r SKIP LOCKED" if dialect.name == "postgresql" else ""
        found = cursor.execute(
            'SELECT r.state, r.task_id, r.agent_id, r."round", run.handler_set FROM "round" r'
            f" LEFT JOIN run ON run.task_id = r.task_id WHERE r.id = ?{lock}",
            (work.round_id,),
        ).fetchone()
        if found is None:
            return None
        state, task_id, agent_id, round_number, handler_set = found
        drafted = set(reads.drafts(cursor, dialect, work.round_id))
        for call, done in zip(work.todo, answers, strict=True):
            if call.tool_call_id in drafted:
                continue
            handler = work.handlers[call.tool_name]
            answerer = (
                Answerer.from_set(handler.kind, work.handler_set)
                if work.handler_set != HandlerSet.SAVED
                else Answerer.handler(handler.kind, handler.version)
            )
            draft = {
                **answerer.columns(),
                "round_id": work.round_id,
                "tool_call_id": call.tool_call_id,
                "mode": DraftMode(handler.mode),
                "output": done.answer.output,
                "is_error": done.answer.is_error,
                "note": done.answer.note,
                "logs": done.logs[:20_000],
                "duration_ms": done.duration_ms,
                "created_at": now,
            }
            insert_row(cursor, dialect, reads.DRAFT, draft)
        if state != RoundState.PENDING:
            return None
        handlers = reads.handlers(
            session, cursor, dialect, agent_id, HandlerSet(handler_set or HandlerSet.SAVED), task_id
        )
        ready = reads.ready(cursor, dialect, work.round_id, handlers)
        if ready is None:
            return None
        results, sources = ready
        answerers = set(sources.values())
        replayed = len(answerers) == 1 and next(iter(answerers)).kind in (AnswererKind.REPLAY, AnswererKind.CASSETTE)
        values = submission(
            round_id=work.round_id, task_id=task_id, agent_id=agent_id, round_number=round_number, results=results,
            answered_by=next(iter(answerers)) if replayed else AUTO, sources=sources,
            next_attempt_at=first_attempt_at(dialect.name, now), now=now,
        )  # fmt: skip
        update_row(
            cursor, dialect, reads.ROUND, ("id", work.round_id),
            {"state": RoundState.SUBMITTING, "message": "", "submitted_at": now},
        )  # fmt: skip
        cursor.execute("DELETE FROM outbox WHERE round_id = ?", (work.round_id,))  # a refused earlier submission
        return OutboxItem(**values, id=insert_row(cursor, dialect, reads.OUTBOX, values))


def task_results(engine: Engine, task_id: int) -> dict[str, str]:
    """Earlier tool results of the task by tool name (the last one wins)."""
    with read_session(engine) as session:
        conn = session.connection()
        return reads.earlier_results(cursor_of(conn), conn.dialect, task_id)
