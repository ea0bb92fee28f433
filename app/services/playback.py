"""Playing a cassette back: its entries answer a run's tool calls, by tool name and arguments, without a person.

A run plays a cassette when it was started with one (``start_with_cassette``: ``Run.handler_set`` is
``cassette``) or when its agent has a playback source (``app.services.cassettes.set_playback``) and the run was
created after that was set (and is not a replay or a demo run). Either way the run is bound to the cassette at its
first round (a ``CassetteRun`` row, a timeline line) and stays bound: choosing another source later does not change
a run under way.

Each call of a round takes an entry (``app.services.cassette_match``: strict or loose); the round's drafts are
stored as ``replay`` drafts answered by ``cassette <name>``, so the responder submits the round as it does a
replay's. An unmatched call gets an *error* tool result naming the call and what the cassette expected: it never
falls through to the tool's handler, so a playback answers every round and a run that strays from its recording
shows it on its page and to the agent, instead of mixing recorded and live answers.
"""

from __future__ import annotations

import asyncio
import time

from sqlalchemy import Engine
from sqlmodel import Session, col, select

from app.answerers import Answerer
from app.db import write_session
from app.models import Cassette, CassetteRun, Draft, Round, Run, ToolCallRow
from app.platform.client import PlatformClient
from app.protocol import RunStarted, StartRun
from app.services import agents
from app.services.cassette_match import match_call, unmatched_output
from app.services.cassettes import get_cassette
from app.services.events import add_event
from app.services.replay import draft_from_original
from app.states import CassetteMatching, DraftMode, EventKind, HandlerSet, RoundState


def draft_own_answers(engine: Engine, round_id: int) -> bool:
    """Store the answers a round gets without handlers: a cassette's (when its run plays one), else the original
    run's (a replay, ``app.services.replay.draft_from_original``). True when every call got one."""
    played = draft_from_cassette(engine, round_id)
    return draft_from_original(engine, round_id) if played is None else played


def plays_cassette(session: Session, run: Run) -> bool:
    """Whether the run's rounds are answered by a cassette (bound, started with one, or its agent's new run while
    a playback source is set)."""
    if run.handler_set == HandlerSet.CASSETTE or session.get(CassetteRun, run.task_id) is not None:
        return True
    return _source(session, run) is not None


def draft_from_cassette(engine: Engine, round_id: int) -> bool | None:
    """Draft every call of a pending round from the run's cassette, binding the run first when needed; ``None``
    when the run plays no cassette, False when the round is not pending (or the run waits for its binding)."""
    with write_session(engine) as session:
        row = session.get(Round, round_id)
        run = session.get(Run, row.task_id) if row is not None else None
        if row is None or run is None:
            return None
        binding = session.get(CassetteRun, run.task_id) or _bind_to_source(session, run)
        if binding is None:
            return False if run.handler_set == HandlerSet.CASSETTE else None
        if row.state != RoundState.PENDING:
            return False
        if session.exec(select(Draft.id).where(Draft.round_id == round_id, Draft.mode == DraftMode.REPLAY)).first():
            return True
        cassette = session.get(Cassette, binding.cassette_id)
        if cassette is None:
            return False
        calls = session.exec(
            select(ToolCallRow).where(ToolCallRow.round_id == round_id).order_by(col(ToolCallRow.position))
        ).all()
        used = list(binding.used)
        answerer = Answerer.cassette(cassette.name).columns()
        now = time.time()
        for call in calls:
            index = match_call(cassette.entries, used, call.name, call.arguments, binding.matching)
            if index is None:
                output = unmatched_output(cassette.entries, used, call.name, call.arguments, binding.matching)
                is_error = True
                note = f"no entry of cassette {cassette.name} ({binding.matching})"
            else:
                entry = cassette.entries[index]
                output, is_error = str(entry["output"]), bool(entry.get("is_error", False))
                note = f"entry {index + 1} of cassette {cassette.name} ({binding.matching})"
                used.append(index)
            session.add(
                Draft(
                    **answerer,
                    round_id=round_id,
                    tool_call_id=call.tool_call_id,
                    mode=DraftMode.REPLAY,
                    output=output,
                    is_error=is_error,
                    note=note,
                    created_at=now,
                )
            )
        binding.used = used
        session.add(binding)
        return True


async def start_with_cassette(
    *, engine: Engine, client: PlatformClient, cassette_id: int, body: StartRun, matching: CassetteMatching
) -> RunStarted:
    """Start a run of the cassette's agent whose rounds the cassette answers with ``matching``, whatever the
    agent's handlers and playback source. Raises ``NotFound`` or ``PlatformError``."""
    name, agent_id = await asyncio.to_thread(_cassette_of, engine, cassette_id)
    started = await agents.start_run(
        engine=engine,
        client=client,
        agent_id=agent_id,
        body=body,
        started_by=f"cassette {name}",
        handler_set=HandlerSet.CASSETTE,
    )
    await asyncio.to_thread(_bind, engine, started.task_id, cassette_id, matching)
    return started


def _cassette_of(engine: Engine, cassette_id: int) -> tuple[str, str]:
    found = get_cassette(engine=engine, cassette_id=cassette_id)
    return found.name, found.agent_id


def _bind(engine: Engine, task_id: int, cassette_id: int, matching: CassetteMatching) -> None:
    with write_session(engine) as session:
        cassette = session.get(Cassette, cassette_id)
        if cassette is not None and session.get(CassetteRun, task_id) is None:
            _bind_run(session, task_id, cassette, matching)


def _bind_to_source(session: Session, run: Run) -> CassetteRun | None:
    cassette = _source(session, run)
    return None if cassette is None else _bind_run(session, run.task_id, cassette, cassette.matching)


def _bind_run(session: Session, task_id: int, cassette: Cassette, matching: CassetteMatching) -> CassetteRun:
    assert cassette.id is not None
    binding = CassetteRun(task_id=task_id, cassette_id=cassette.id, matching=matching, used=[])
    session.add(binding)
    summary = f"cassette {cassette.name} plays back this run's tool calls ({matching} matching)"
    add_event(db=session, task_id=task_id, kind=EventKind.REPLAY, summary=summary, at=time.time())
    return binding


def _source(session: Session, run: Run) -> Cassette | None:
    """The agent's playback source when it answers ``run``: a saved-handlers run, not a replay, created after the
    source was set."""
    if run.handler_set != HandlerSet.SAVED or run.replay_of is not None:
        return None
    query = select(Cassette).where(Cassette.agent_id == run.agent_id, col(Cassette.playing))
    cassette = session.exec(query).first()
    if cassette is None or cassette.playing_since is None or run.created_at < cassette.playing_since:
        return None
    return cassette
