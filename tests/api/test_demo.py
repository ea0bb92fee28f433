"""The demo drives every demo agent to the end unattended with its own handlers, and leaves saved ones alone."""

from __future__ import annotations

from app.services.demo import load_demo_handlers
from tests.builders import Console

CLOCK = "3f1c2a7e-5b8d-4e0a-9c61-0c1e2d3a4b01"


def test_demo_handlers_cover_every_demo_tool():
    from app.simulator import DEFAULT_SCENARIOS_DIR, load_scenarios

    tools = {(s.agent_id, t.name) for s in load_scenarios(DEFAULT_SCENARIOS_DIR) for t in s.tools}
    assert {(h.agent_id, h.tool_name) for h in load_demo_handlers()} == tools


async def _run_demo_to_the_end(console: Console) -> list[dict]:
    response = await console.post("/api/demo", json={})
    assert response.status_code == 202, response.text
    task_ids = [run["task_id"] for run in response.json()]
    assert len(task_ids) == 4

    # completed, and the platform's answer to every submission stored (``Console.wait_for_status``)
    return [await console.wait_for_status(task_id, "completed", within=30, acknowledged=True) for task_id in task_ids]


async def test_run_demo_completes_every_agent(console: Console):
    runs = await _run_demo_to_the_end(console)
    by_agent = {run["agent_name"]: run for run in runs}
    assert "Sunny" in by_agent["Trip planner"]["result"] and "Hotel" in by_agent["Trip planner"]["result"]
    assert by_agent["Clock"]["result"].startswith("The current time in UTC is 20")
    assert all(r["answered_by"] == "handlers (auto)" for run in runs for r in run["rounds"])
    clock_results = by_agent["Clock"]["rounds"][0]["results"]
    assert [r["answered_by"] for r in clock_results] == ["python handler (demo set)"]


async def test_run_demo_leaves_saved_handlers_and_modes_alone(console: Console):
    saved = await console.save_handler(
        agent_id=CLOCK, tool_name="get_current_time", kind="static", mode="manual", spec={"output": "mine"}
    )
    await _run_demo_to_the_end(console)

    assert list(await console.handlers()) == ["get_current_time"]  # the demo saved none of its own
    after = (await console.handlers())["get_current_time"]
    assert (after["mode"], after["version"], after["spec"]) == ("manual", saved["version"], saved["spec"])
    versions = (await console.get(f"/api/handlers/{saved['id']}/versions")).json()
    assert [v["version"] for v in versions] == [1]

    task_id = await console.start(CLOCK, {"1": "UTC"})  # a person's own run: the manual handler leaves it to them
    pending = await console.pending_round(task_id)
    assert pending["drafts"] == []
    await console.answer(pending, {"get_current_time": "12:00"})
    run = await console.wait_for_status(task_id, "completed", acknowledged=True)
    assert run["rounds"][0]["answered_by"] == "person: api (token tests)"
