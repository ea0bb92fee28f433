"""The Agents page with an agent of many tools: its chips stop at 100 and say how many more there are."""

from __future__ import annotations

from nicegui import ui
from nicegui.testing import User

from app.states import Role
from tests.builders import Console, sign_in_user


async def test_agent_of_many_tools_draws_100_chips_and_says_how_many_more(user: User, console: Console):
    document = (await console.get("/api/config")).json()
    tools = [{"name": f"tool_{i}", "description": "", "parameters": {}} for i in range(150)]
    agent = {"agent_id": "9e0f7c1a-0000-4000-8000-000000000002", "name": "Crowded", "tools": tools, "inputs": []}
    document["agents"].append(agent)
    assert (await console.post("/api/config", json=document)).status_code == 200
    await user.open("/agents")
    await user.should_see("… and 50 more tools (the Handlers page lists them all)", retries=50)
    card = user.find(marker="agent-Crowded").elements.pop()
    chips = [element.text for element in card.descendants() if isinstance(element, ui.chip)]
    assert chips == [f"tool_{i}" for i in range(100)]


async def test_a_viewer_syncs_agents_from_the_platform(user: User):
    """*Sync from platform* is a read every role may make; its handler checks the session as every other does."""
    sign_in_user(user, role=Role.VIEWER, name="vera")
    await user.open("/agents")
    await user.should_see(marker="sync-agents")
    user.find(marker="sync-agents").click()
    await user.should_see("agent(s) synced", retries=50)
