"""The outbox: a submission the platform cannot take yet lands once, later."""

from __future__ import annotations

import httpx

from app.runtime import Runtime
from tests.builders import wait_for

CLOCK = "3f1c2a7e-5b8d-4e0a-9c61-0c1e2d3a4b01"


async def _pending_round(console: httpx.AsyncClient, task_id: int) -> dict:
    async def found() -> list:
        return [r for r in (await console.get("/api/rounds")).json() if r["task_id"] == task_id]

    return (await wait_for(found))[0]


async def test_submit_during_outage_queued_then_lands_once(console: httpx.AsyncClient, runtime: Runtime):
    assert runtime.simulator is not None
    task_id = (await console.post(f"/api/agents/{CLOCK}/runs", json={})).json()["task_id"]
    round_ = await _pending_round(console, task_id)
    runtime.simulator.unavailable_tool_responses = 2
    call_id = round_["tool_calls"][0]["tool_call_id"]
    response = await console.post(
        f"/api/rounds/{round_['id']}/responses", json={"results": [{"tool_call_id": call_id, "output": "noon"}]}
    )
    assert response.status_code == 202, response.text
    assert response.json()["state"] == "submitting"
    assert "503 unavailable" in response.json()["message"]

    async def completed() -> bool:
        return (await console.get(f"/api/runs/{task_id}")).json()["status"] == "completed"

    await wait_for(completed)
    assert [(task, body.results[0].output) for task, body in runtime.simulator.received] == [(task_id, "noon")]
    run = (await console.get(f"/api/runs/{task_id}")).json()
    assert run["rounds"][0]["state"] == "submitted"
    assert run["rounds"][0]["message"] == "sent on attempt 3"


async def test_fault_control_requires_api_key(console: httpx.AsyncClient):
    response = await console.post("/sim/_control/faults", json={"unavailable_tool_responses": 1})
    assert response.status_code == 401
