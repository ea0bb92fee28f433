"""The main job through the JSON API: start a run on the embedded simulator, answer its rounds, see it end."""

from __future__ import annotations

import httpx

from app.runtime import Runtime
from tests.builders import wait_for

CLOCK = "3f1c2a7e-5b8d-4e0a-9c61-0c1e2d3a4b01"


async def _pending(console: httpx.AsyncClient, task_id: int) -> list[dict]:
    rounds = (await console.get("/api/rounds", params={"state": "pending"})).json()
    return [item for item in rounds if item["task_id"] == task_id]


async def _status(console: httpx.AsyncClient, task_id: int) -> str:
    return (await console.get(f"/api/runs/{task_id}")).json()["status"]


async def test_start_run_answer_round_completes_with_answer(console: httpx.AsyncClient, runtime: Runtime):
    started = await console.post(f"/api/agents/{CLOCK}/runs", json={"string_inputs": {"1": "UTC"}})
    assert started.status_code == 202, started.text
    task_id = started.json()["task_id"]
    [round_] = await wait_for(lambda: _pending(console, task_id))
    assert [call["name"] for call in round_["tool_calls"]] == ["get_current_time"]
    assert round_["tool_calls"][0]["arguments"] == {"timezone": "UTC"}

    call_id = round_["tool_calls"][0]["tool_call_id"]
    answered = await console.post(
        f"/api/rounds/{round_['id']}/responses",
        json={"results": [{"tool_call_id": call_id, "output": "2026-11-29T17:00:02Z"}]},
    )
    assert answered.status_code == 200, answered.text
    assert runtime.simulator is not None
    assert [(task, body.round, [r.output for r in body.results]) for task, body in runtime.simulator.received] == [
        (task_id, 1, ["2026-11-29T17:00:02Z"])
    ]

    await wait_for(lambda: _status(console, task_id))
    await wait_for(lambda: _completed(console, task_id))
    run = (await console.get(f"/api/runs/{task_id}")).json()
    assert "2026-11-29T17:00:02Z" in run["result"]
    assert run["agent_name"] == "Clock"
    assert run["rounds"][0]["state"] == "submitted"
    assert run["rounds"][0]["results"][0]["answered_by"] == "person: api"
    assert await _pending(console, task_id) == []


async def _completed(console: httpx.AsyncClient, task_id: int) -> bool:
    return await _status(console, task_id) == "completed"


async def test_submit_twice_refused_second_time(console: httpx.AsyncClient, runtime: Runtime):
    task_id = (await console.post(f"/api/agents/{CLOCK}/runs", json={})).json()["task_id"]
    [round_] = await wait_for(lambda: _pending(console, task_id))
    results = {"results": [{"tool_call_id": round_["tool_calls"][0]["tool_call_id"], "output": "noon"}]}
    first = await console.post(f"/api/rounds/{round_['id']}/responses", json=results)
    second = await console.post(f"/api/rounds/{round_['id']}/responses", json=results)
    assert first.status_code == 200
    assert second.status_code == 409
    assert "nothing was sent" in second.json()["error"]["message"]
    assert runtime.simulator is not None and len(runtime.simulator.received) == 1


async def test_start_run_unknown_agent_shows_platform_404(console: httpx.AsyncClient):
    response = await console.post("/api/agents/no-such-agent/runs", json={})
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"


async def test_start_run_bad_body_is_422_in_contract_shape(console: httpx.AsyncClient):
    response = await console.post(
        f"/api/agents/{CLOCK}/runs", content=b"{not json", headers={"content-type": "application/json"}
    )
    assert response.status_code == 422
    assert response.json()["error"]["code"] == "bad_body"


async def test_get_unknown_run_is_404(console: httpx.AsyncClient):
    response = await console.get("/api/runs/999999")
    assert response.status_code == 404
    assert "999999" in response.json()["error"]["message"]


async def test_get_run_with_non_integer_id_is_422(console: httpx.AsyncClient):
    response = await console.get("/api/runs/abc")
    assert response.status_code == 422
    assert response.json()["error"]["code"] == "bad_request"


async def test_started_run_timeline_begins_with_the_start(console: httpx.AsyncClient):
    task_id = (await console.post(f"/api/agents/{CLOCK}/runs", json={})).json()["task_id"]
    await wait_for(lambda: _pending(console, task_id))
    kinds = [event["kind"] for event in (await console.get(f"/api/runs/{task_id}")).json()["events"]]
    assert kinds[0] == "started" and "state" in kinds
