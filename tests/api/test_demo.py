"""The demo drives every demo agent to the end unattended."""

from __future__ import annotations

from app.services.demo import load_demo_handlers
from tests.builders import Console, wait_for


def test_demo_handlers_cover_every_demo_tool():
    from app.simulator import DEFAULT_SCENARIOS_DIR, load_scenarios

    tools = {(s.agent_id, t.name) for s in load_scenarios(DEFAULT_SCENARIOS_DIR) for t in s.tools}
    assert {(h.agent_id, h.tool_name) for h in load_demo_handlers()} == tools


async def test_run_demo_completes_every_agent(console: Console, monkeypatch):
    response = await console.post("/api/demo", json={})
    assert response.status_code == 202, response.text
    task_ids = [run["task_id"] for run in response.json()]
    assert len(task_ids) == 4

    async def all_done() -> list:
        runs = [(await console.get(f"/api/runs/{task_id}")).json() for task_id in task_ids]
        return runs if all(run["status"] == "completed" for run in runs) else []

    runs = await wait_for(all_done, within=30)
    by_agent = {run["agent_name"]: run for run in runs}
    assert "Sunny" in by_agent["Trip planner"]["result"] and "Hotel" in by_agent["Trip planner"]["result"]
    assert by_agent["Clock"]["result"].startswith("The current time in UTC is 20")
    assert all(r["answered_by"] == "handlers (auto)" for run in runs for r in run["rounds"])
