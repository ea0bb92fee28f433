"""Replay to round k: run an agent again with the same inputs and answer rounds 1..k as the original run was
answered, leaving round k+1 for a person (or its handlers).

Calls are matched to the original round's calls by tool name, in order (tool_call_ids differ between runs by
nature). When the new round asks for different tools than the original did, nothing is drafted for it and the
round says why: the replay has diverged, and a person takes over.
"""

from __future__ import annotations

import asyncio
import time

from sqlalchemy import Engine
from sqlmodel import Session, col, select

from app.answerers import Answerer
from app.db import write_session
from app.errors import BadRequest
from app.models import Draft, Round, Run, ToolCallRow, ToolResultRow
from app.platform.client import PlatformClient
from app.protocol import RunStarted, StartRun
from app.services import agents
from app.services.events import add_event
from app.services.runs import get_run
from app.states import DraftMode, EventKind, RoundState


async def replay_run(*, engine: Engine, client: PlatformClient, task_id: int, until_round: int) -> RunStarted:
    """Start ``task_id``'s agent again with its inputs; rounds 1..``until_round`` get the original answers.

    ``until_round`` is 0 (answer nothing) up to the last round the original answered. Raises ``NotFound``,
    ``BadRequest`` for a round out of range, or ``PlatformError``.
    """
    original = await asyncio.to_thread(lambda: get_run(engine=engine, task_id=task_id))
    answered = [r.round for r in original.rounds if r.results]
    last = max(answered, default=0)
    if not 0 <= until_round <= last:
        raise BadRequest(f"run {task_id} has answered rounds 1..{last}: replay to a round from 0 to {last}")
    body = StartRun(string_inputs=original.string_inputs or {}, environment=original.environment or "playground")
    started = await agents.start_run(
        engine=engine, client=client, agent_id=original.agent_id, body=body, started_by=f"replay of run {task_id}"
    )
    await asyncio.to_thread(_link, engine, task_id, started.task_id, until_round)
    return started


def draft_from_original(engine: Engine, round_id: int) -> bool:
    """Store the original run's answers as drafts for a replayed round; True when every call got one."""
    with write_session(engine) as session:
        row = session.get(Round, round_id)
        if row is None or row.state != RoundState.PENDING:
            return False
        run = session.get(Run, row.task_id)
        if run is None or run.replay_of is None or row.round > (run.replay_until or 0):
            return False
        if session.exec(select(Draft.id).where(Draft.round_id == round_id, Draft.mode == DraftMode.REPLAY)).first():
            return True
        calls = session.exec(
            select(ToolCallRow).where(ToolCallRow.round_id == round_id).order_by(col(ToolCallRow.position))
        ).all()
        recorded = _recorded(session, run.replay_of, row.round)
        wanted = [call.name for call in calls]
        if [name for name, _output, _error in recorded] != wanted:
            row.message = (
                f"replay of run {run.replay_of} diverged: this round calls {', '.join(wanted)}, the "
                f"original called {', '.join(n for n, _, _ in recorded) or 'nothing'}; answer it here"
            )
            session.add(row)
            return False
        now = time.time()
        for call, (_name, output, is_error) in zip(calls, recorded, strict=True):
            session.add(
                Draft(
                    **Answerer.replay(run.replay_of).columns(),
                    round_id=round_id,
                    tool_call_id=call.tool_call_id,
                    mode=DraftMode.REPLAY,
                    output=output,
                    is_error=is_error,
                    note=f"as answered in run {run.replay_of}",
                    created_at=now,
                )
            )
        return True


def _recorded(session: Session, task_id: int, number: int) -> list[tuple[str, str, bool]]:
    """The original round's calls in order, each with the result it received."""
    original = session.exec(select(Round).where(Round.task_id == task_id, Round.round == number)).first()
    if original is None:
        return []
    calls = session.exec(
        select(ToolCallRow).where(ToolCallRow.round_id == original.id).order_by(col(ToolCallRow.position))
    ).all()
    results = {
        r.tool_call_id: r
        for r in session.exec(select(ToolResultRow).where(ToolResultRow.round_id == original.id)).all()
    }
    return [
        (c.name, results[c.tool_call_id].output, results[c.tool_call_id].is_error)
        for c in calls
        if c.tool_call_id in results
    ]


def _link(engine: Engine, original: int, replay: int, until_round: int) -> None:
    now = time.time()
    with write_session(engine) as session:
        run = session.get(Run, replay)
        assert run is not None
        run.replay_of, run.replay_until = original, until_round
        session.add(run)
        rounds = f"rounds 1..{until_round}" if until_round else "no round"
        summary = f"replay of run {original}: {rounds} answered as there"
        add_event(db=session, task_id=replay, kind=EventKind.REPLAY, summary=summary, at=now)
        summary = f"replayed as run {replay} ({rounds} answered from this run)"
        add_event(db=session, task_id=original, kind=EventKind.REPLAY, summary=summary, at=now)
