"""Overview numbers must match the data: who answered a round."""

from __future__ import annotations

import httpx

from tests.builders import wait_for

CLOCK = "3f1c2a7e-5b8d-4e0a-9c61-0c1e2d3a4b01"


async def test_overview_after_replay_counts_person_rounds_once(console: httpx.AsyncClient):
    """Regression: A replayed round is submitted by the console from the original's answers (``answered_by`` "replay of run
    N"), yet the latency by answerer and the per-minute count put it under "person": one round answered by hand shows as
    two, and the person's p50 latency drops to the replay's few milliseconds."""
    task_id = (await console.post(f"/api/agents/{CLOCK}/runs", json={})).json()["task_id"]

    async def pending() -> list:
        return [r for r in (await console.get("/api/rounds")).json() if r["task_id"] == task_id]

    [round_] = await wait_for(pending)
    call_id = round_["tool_calls"][0]["tool_call_id"]
    answered = await console.post(
        f"/api/rounds/{round_['id']}/responses",
        json={"results": [{"tool_call_id": call_id, "output": "half past"}], "answered_by": "ci"},
    )
    assert answered.status_code == 200, answered.text
    replayed = (await console.post(f"/api/runs/{task_id}/replay", json={"until_round": 1})).json()["task_id"]

    async def completed() -> bool:
        return (await console.get(f"/api/runs/{replayed}")).json()["status"] == "completed"

    await wait_for(completed)
    data = (await console.get("/api/overview")).json()
    assert {item["answerer"]: item["rounds"] for item in data["latency"]}.get("person") == 1
    assert sum(minute["person"] for minute in data["rounds_per_minute"]) == 1
