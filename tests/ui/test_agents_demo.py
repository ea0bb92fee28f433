"""Run demo on the Agents page asks first, says what it will do, and starts nothing on Cancel."""

from __future__ import annotations

from nicegui.testing import User

from app.runtime import get_runtime
from app.services import agents
from tests.builders import Console, wait_for


async def _open_agents(user: User) -> None:
    engine = get_runtime().engine
    await wait_for(lambda: agents.list_agents(engine=engine), within=30.0)
    await user.open("/agents")
    await user.should_see(marker="run-demo")


async def test_run_demo_asks_then_starts_every_demo_agent(user: User, console: Console):
    await _open_agents(user)
    user.find(marker="run-demo").click()
    await user.should_see("Starts 4 run(s), one of each demo agent: Clock, Flaky, Trip planner, Weather compare.")
    await user.should_see("Your saved handlers and their modes stay as they are")
    user.find(marker="start-demo").click()
    await user.should_see("Demo started: 4 run(s)", retries=100)
    runs = (await console.get("/api/runs")).json()["runs"]
    assert sorted(run["agent_name"] for run in runs) == ["Clock", "Flaky", "Trip planner", "Weather compare"]
    assert await console.handlers() == {}


async def test_run_demo_cancel_starts_nothing(user: User, console: Console):
    await _open_agents(user)
    user.find(marker="run-demo").click()
    await user.should_see(marker="start-demo")
    user.find("Cancel").click()
    await user.should_not_see(marker="start-demo")
    assert (await console.get("/api/runs")).json()["runs"] == []
