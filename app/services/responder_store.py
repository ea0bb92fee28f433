"""The responder's database work, blocking (run on the handlers' pool): one read before the handlers answer, one
write after.

A round answered in auto mode costs two trips to a thread and one commit on the console's side: ``plan_rounds``
reads every pending round of a task with what its handlers need (one read transaction), and ``store_answers``
stores the drafts and, when every call of the round now has an auto (or replay) draft, claims the round and
stores its outbox item in the same transaction (``app.services.rounds.claim_round``), so the submission is
durable before it is sent and nothing else can send the round meanwhile.

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
from sqlalchemy import ColumnElement, Engine, and_
from sqlmodel import Session, col, select

from app.answerers import AUTO, Answerer
from app.db import read_session, write_session
from app.handlers.faults import Behaviour
from app.handlers.run import CallAnswer, CallInput
from app.handlers.static import StaticSpec, answer_static
from app.models import Draft, Handler, OutboxItem, Round, Run, ToolCallRow, ToolResultRow
from app.protocol import ToolResult
from app.services.demo import demo_handlers
from app.services.playback import plays_cassette
from app.services.rounds import claim_round, locked_round
from app.services.sweep_answers import sweep_handlers
from app.states import (
    HANDLER_DRAFT_MODES,
    AnswererKind,
    DraftMode,
    HandlerKind,
    HandlerMode,
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
    each with its work (none for a round no handler answers: its fallback timer is still set). ``replays=False`` plans a replayed round for its
    handlers (the replay diverged)."""
    query = select(Round).where(Round.state == RoundState.PENDING).order_by(col(Round.id))
    if task_id is not None:
        query = query.where(Round.task_id == task_id)
    if round_id is not None:
        query = query.where(Round.id == round_id)
    with read_session(engine) as session:
        return [_plan(session, row, replays) for row in session.exec(query).all()]


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


def _plan(session: Session, row: Round, replays: bool) -> RoundWork:
    assert row.id is not None
    run = session.get(Run, row.task_id)
    if replays and run is not None and run.replay_of is not None and row.round <= (run.replay_until or 0):
        return RoundWork(round_id=row.id, task_id=row.task_id, replay=True)
    if replays and run is not None and plays_cassette(session, run):  # answered like a replay's rounds
        return RoundWork(round_id=row.id, task_id=row.task_id, replay=True)
    handler_set = run.handler_set if run is not None else HandlerSet.SAVED
    handlers = _handlers(session, row.agent_id, handler_set, row.task_id)
    if not handlers:
        return RoundWork(row.id, row.task_id, handler_set=handler_set)
    calls = session.exec(
        select(ToolCallRow).where(ToolCallRow.round_id == row.id).order_by(col(ToolCallRow.position))
    ).all()
    drafted = set(session.exec(select(Draft.tool_call_id).where(_handler_drafts(row.id))).all())
    missing = [call for call in calls if call.name in handlers and call.tool_call_id not in drafted]
    if not missing:
        ready = _ready(session, row, handlers) is not None
        return RoundWork(row.id, row.task_id, handlers=handlers, handler_set=handler_set, ready=ready)
    results = _earlier_results(session, row.task_id)
    todo = [
        CallInput(
            tool_call_id=c.tool_call_id,
            tool_name=c.name,
            args=c.arguments,
            agent_id=row.agent_id,
            task_id=row.task_id,
            round=row.round,
            results=results,
            args_text=c.arguments_text,
            args_problem=c.arguments_problem,
        )
        for c in missing
    ]
    return RoundWork(row.id, row.task_id, todo=todo, handlers=handlers, handler_set=handler_set)


def store_answers(engine: Engine, work: RoundWork, answers: list[CallAnswer]) -> OutboxItem | None:
    """Store the handlers' answers to ``work.todo`` as drafts (a call drafted meanwhile keeps its first draft) and,
    when the round is still pending and every call now has an auto or replay draft, claim the round with them:
    one transaction. Returns the outbox item to deliver, else ``None``, also when another console holds the
    round (PostgreSQL's ``SKIP LOCKED``: it is storing or claiming the same round, and its answers stand)."""
    now = time.time()
    with write_session(engine) as session:
        if locked_round(session, work.round_id, skip_locked=True) is None:
            return None
        drafted = set(session.exec(select(Draft.tool_call_id).where(_handler_drafts(work.round_id))).all())
        for call, done in zip(work.todo, answers, strict=True):
            if call.tool_call_id in drafted:
                continue
            handler = work.handlers[call.tool_name]
            answerer = (
                Answerer.from_set(handler.kind, work.handler_set)
                if work.handler_set != HandlerSet.SAVED
                else Answerer.handler(handler.kind, handler.version)
            )
            session.add(
                Draft(
                    **answerer.columns(),
                    round_id=work.round_id,
                    tool_call_id=call.tool_call_id,
                    mode=DraftMode(handler.mode),
                    output=done.answer.output,
                    is_error=done.answer.is_error,
                    note=done.answer.note,
                    logs=done.logs[:20_000],
                    duration_ms=done.duration_ms,
                    created_at=now,
                )
            )
        session.flush()
        row = session.get(Round, work.round_id)
        if row is None or row.state != RoundState.PENDING:
            return None
        run = session.get(Run, row.task_id)
        handlers = _handlers(
            session, row.agent_id, run.handler_set if run is not None else HandlerSet.SAVED, row.task_id
        )
        ready = _ready(session, row, handlers)
        if ready is None:
            return None
        results, sources = ready
        answerers = set(sources.values())
        replayed = len(answerers) == 1 and next(iter(answerers)).kind in (AnswererKind.REPLAY, AnswererKind.CASSETTE)
        return claim_round(session, work.round_id, results, next(iter(answerers)) if replayed else AUTO, sources)


def _ready(
    session: Session, row: Round, handlers: dict[str, Handler]
) -> tuple[list[ToolResult], dict[str, Answerer]] | None:
    """The round's results and who answered each, when every call has a replay draft or an auto handler's draft;
    the handlers' modes now, not when the drafts were made: a switch to auto sends a suggested round, a switch to
    manual while a handler was still answering keeps the round for a person."""
    calls = dict(
        session.exec(select(ToolCallRow.tool_call_id, ToolCallRow.name).where(ToolCallRow.round_id == row.id)).all()
    )
    drafts = {d.tool_call_id: d for d in session.exec(select(Draft).where(_handler_drafts(row.id))).all()}
    modes = {tool: handler.mode for tool, handler in handlers.items()}
    ready = [
        call in drafts and (drafts[call].mode == DraftMode.REPLAY or modes.get(name) == HandlerMode.AUTO)
        for call, name in calls.items()
    ]
    if not calls or not all(ready):
        return None
    results = [
        ToolResult(tool_call_id=call, output=drafts[call].output, is_error=drafts[call].is_error) for call in calls
    ]
    return results, {call: drafts[call].answerer() for call in calls}


def _handler_drafts(round_id: int | None) -> ColumnElement[bool]:
    return and_(col(Draft.round_id) == round_id, col(Draft.mode).in_(HANDLER_DRAFT_MODES))


def _handlers(session: Session, agent_id: str, handler_set: HandlerSet, task_id: int) -> dict[str, Handler]:
    """The agent's handlers that are not manual, by tool name: the demo's set for a demo run, a sweep's for a sweep
    run (``app.services.sweep_answers``), else the saved ones."""
    if handler_set == HandlerSet.DEMO:
        return demo_handlers(agent_id)
    if handler_set == HandlerSet.CASSETTE:
        return {}  # a cassette answers every call (app.services.playback)
    if handler_set == HandlerSet.SWEEP:
        return sweep_handlers(session, agent_id, task_id)
    query = select(Handler).where(Handler.agent_id == agent_id, Handler.mode != HandlerMode.MANUAL)
    return {h.tool_name: h for h in session.exec(query).all()}


def task_results(engine: Engine, task_id: int) -> dict[str, str]:
    """Earlier tool results of the task by tool name (the last one wins)."""
    with read_session(engine) as session:
        return _earlier_results(session, task_id)


def _earlier_results(session: Session, task_id: int) -> dict[str, str]:
    rows = session.exec(
        select(ToolCallRow.name, ToolResultRow.output)
        .join(Round, col(Round.id) == col(ToolResultRow.round_id))
        .join(
            ToolCallRow,
            (col(ToolCallRow.round_id) == col(ToolResultRow.round_id))
            & (col(ToolCallRow.tool_call_id) == col(ToolResultRow.tool_call_id)),
        )
        .where(Round.task_id == task_id)
        .order_by(col(ToolResultRow.id))
    ).all()
    return dict(rows)
