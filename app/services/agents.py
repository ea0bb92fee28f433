"""Agents: syncing the platform's agent list and starting runs."""

from __future__ import annotations

import asyncio
import contextlib
import time

from sqlalchemy import Engine
from sqlmodel import Session, col, select

from app.db import read_session, write_session
from app.errors import TooldeskError
from app.models import Agent
from app.platform.client import PlatformClient
from app.protocol import AgentSpec, RunStarted, StartRun
from app.services.runs import record_run_started
from app.states import HandlerSet


async def sync_agents(*, engine: Engine, client: PlatformClient) -> list[Agent]:
    """Fetch ``list_agents`` and store it; raises ``PlatformError`` when the platform refuses."""
    specs = await client.list_agents()
    return await asyncio.to_thread(_store_agents, engine, specs)


def list_agents(*, engine: Engine) -> list[Agent]:
    """The agents as last synced, by name."""
    with read_session(engine) as session:
        return agents_in(session)


def agents_in(session: Session) -> list[Agent]:
    """``list_agents`` in an open read session (``app.db.read_session``)."""
    return list(session.exec(select(Agent).order_by(col(Agent.name))).all())


async def start_run(
    *,
    engine: Engine,
    client: PlatformClient,
    agent_id: str,
    body: StartRun,
    started_by: str,
    handler_set: HandlerSet = HandlerSet.SAVED,
) -> RunStarted:
    """Start a run (start-only execute) and record it; its progress arrives by webhook. ``handler_set``: which
    handlers answer its rounds.

    Raises ``PlatformError`` (404 unknown agent, 422 bad body) or ``PlatformUnreachable``.
    """
    asked_at = time.time()
    started = await client.start_agent_run(agent_id=agent_id, body=body)
    if not await asyncio.to_thread(_known, engine, agent_id):
        with contextlib.suppress(TooldeskError):  # the run has started: a failed list only costs the name
            await sync_agents(engine=engine, client=client)
    await asyncio.to_thread(
        lambda: record_run_started(
            engine=engine,
            agent_id=agent_id,
            task_id=started.task_id,
            string_inputs=body.string_inputs,
            environment=body.environment,
            started_by=started_by,
            at=asked_at,
            handler_set=handler_set,
        )
    )
    return started


def _store_agents(engine: Engine, specs: list[AgentSpec]) -> list[Agent]:
    now = time.time()
    with write_session(engine) as session:
        for spec in specs:
            row = session.get(Agent, spec.agent_id) or Agent(agent_id=spec.agent_id, name=spec.name, synced_at=now)
            row.name = spec.name
            row.description = spec.description
            row.tools = [tool.model_dump() for tool in spec.tools]
            row.inputs = [item.model_dump() for item in spec.inputs]
            row.synced_at = now
            session.add(row)
    return list_agents(engine=engine)


def _known(engine: Engine, agent_id: str) -> bool:
    with read_session(engine) as session:
        return session.get(Agent, agent_id) is not None
