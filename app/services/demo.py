"""The demo: one click installs the shipped handlers (``fixtures/handlers/*.json``) in auto mode and starts
every demo agent once, so the runs go to completion unattended while the pages follow them live."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

from pydantic import TypeAdapter, ValidationError
from sqlalchemy import Engine

from app.errors import HandlerInvalid
from app.platform.client import PlatformClient
from app.protocol import RunStarted, StartRun
from app.services import agents, handler_store
from app.states import HandlerMode

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


async def run_demo(*, engine: Engine, client: PlatformClient) -> list[RunStarted]:
    """Install the demo handlers (a new version each, mode auto) and start every agent that has one, with its
    default inputs. Raises ``HandlerInvalid`` or ``PlatformError``; runs already started stay started."""
    demo = load_demo_handlers()
    for handler in demo:
        installed = handler.model_copy(update={"mode": HandlerMode.AUTO, "note": "demo"})
        await asyncio.to_thread(handler_store.save_handler, engine=engine, handler=installed)
    known = {agent.agent_id: agent for agent in await agents.sync_agents(engine=engine, client=client)}
    started = []
    for agent_id in dict.fromkeys(handler.agent_id for handler in demo):
        agent = known.get(agent_id)
        if agent is None:
            continue  # the platform does not list this demo agent (a real platform, say)
        inputs = {item["key"]: item.get("default", "") for item in agent.inputs}
        body = StartRun(string_inputs=inputs, environment="playground")
        started.append(
            await agents.start_run(engine=engine, client=client, agent_id=agent_id, body=body, started_by="demo")
        )
    return started
