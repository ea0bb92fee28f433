"""The demo: one click starts every demo agent once, and the demo's own handlers answer those runs unattended.

The demo's handlers are the files in ``fixtures/handlers/*.json`` (a ``HandlerIn`` list per agent). They are
never saved: a person's handlers, their versions and their modes stay exactly as they are. Instead each run the
demo starts is marked ``Run.handler_set = demo``, and the responder (``app.services.responder``) answers the
rounds of such a run with the demo's set, every tool in auto mode; every other run is answered by the saved
handlers as before. A demo answer names its handler as "rules handler (demo set)" (no version: the set is not
versioned). A tool the set does not cover waits for a person, like a manual tool.

This is the least invasive honest way: no second copy of the handler tables, no switch that changes what
answers other runs, and the marker is data on the run, so it survives a restart. One limit: the console learns
a run's task_id only when the platform has taken it, so a round that arrives before the run is recorded is
seen first as an ordinary run's; ``Runtime.run_started`` asks the responder again once the run is recorded.
"""

from __future__ import annotations

import asyncio
import functools
import json
import logging
import time
from pathlib import Path

from pydantic import TypeAdapter, ValidationError
from sqlalchemy import Engine

from app.errors import HandlerInvalid
from app.models import Agent, Handler
from app.platform.client import PlatformClient
from app.protocol import RunStarted, StartRun
from app.services import agents, handler_store
from app.states import HandlerMode, HandlerSet

log = logging.getLogger("tooldesk")

DEMO_HANDLERS_DIR = Path(__file__).resolve().parents[2] / "fixtures" / "handlers"
"""``<repo>/fixtures/handlers``: a JSON list of handlers (``HandlerIn`` shape) per demo agent."""


def load_demo_handlers(directory: Path = DEMO_HANDLERS_DIR) -> list[handler_store.HandlerIn]:
    """Every handler in the folder's ``*.json`` files; raises ``HandlerInvalid`` naming the file."""
    found: list[handler_store.HandlerIn] = []
    for path in sorted(directory.glob("*.json")):
        try:
            found += TypeAdapter(list[handler_store.HandlerIn]).validate_python(json.loads(path.read_text("utf-8")))
        except (ValueError, ValidationError) as exc:
            raise HandlerInvalid(f"{path.name}: {exc}") from None
    return found


@functools.cache
def _demo_set(directory: Path) -> dict[tuple[str, str], Handler]:
    """The demo's handlers checked like a save and kept in memory, by ``(agent_id, tool_name)``, all in auto mode;
    they are ``Handler`` rows that are never added to a session. Raises ``HandlerInvalid``."""
    found: dict[tuple[str, str], Handler] = {}
    for handler in load_demo_handlers(directory):
        spec, behaviour = handler_store.validate(handler)
        found[handler.agent_id, handler.tool_name] = Handler(
            agent_id=handler.agent_id,
            tool_name=handler.tool_name,
            kind=handler.kind,
            mode=HandlerMode.AUTO,
            spec=spec,
            behaviour=behaviour,
            version=0,
            updated_at=time.time(),
        )
    return found


def demo_handlers(agent_id: str, directory: Path = DEMO_HANDLERS_DIR) -> dict[str, Handler]:
    """The demo set's handlers of one agent by tool name (blocking: the first call checks the files); an empty dict,
    logged, when the files do not check out."""
    try:
        found = _demo_set(directory)
    except HandlerInvalid as exc:
        log.warning("the demo's handlers cannot answer: %s", exc.message)
        return {}
    return {tool: handler for (agent, tool), handler in found.items() if agent == agent_id}


async def demo_agents(*, engine: Engine, client: PlatformClient) -> list[Agent]:
    """The agents *Run demo* would start: those the platform lists (synced now) that the demo set has handlers
    for, by name. Raises ``HandlerInvalid`` (a bad fixture) or ``PlatformError``."""
    covered = {handler.agent_id for handler in load_demo_handlers()}
    listed = await agents.sync_agents(engine=engine, client=client)
    return [agent for agent in listed if agent.agent_id in covered]


async def run_demo(*, engine: Engine, client: PlatformClient) -> list[RunStarted]:
    """Start every demo agent the platform lists once, with its default inputs, as runs answered by the demo's own
    handlers (``HandlerSet.DEMO``). Saved handlers and modes are not touched. Raises ``HandlerInvalid`` or
    ``PlatformError``; runs already started stay started."""
    await asyncio.to_thread(_demo_set, DEMO_HANDLERS_DIR)  # a bad fixture refuses the demo before any run starts
    started = []
    for agent in await demo_agents(engine=engine, client=client):
        inputs = {item["key"]: item.get("default", "") for item in agent.inputs}
        body = StartRun(string_inputs=inputs, environment="playground")
        started.append(
            await agents.start_run(
                engine=engine,
                client=client,
                agent_id=agent.agent_id,
                body=body,
                started_by="demo",
                handler_set=HandlerSet.DEMO,
            )
        )
    return started
