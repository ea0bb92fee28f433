"""The main job through the JSON API: start a run on the embedded simulator, answer its rounds, see it end."""

from __future__ import annotations

import pytest

from app.runtime import Runtime
from tests.builders import CLOCK, Console, wait_for


async def test_start_run_answer_round_completes_with_answer(console: Console, runtime: Runtime):
    task_id = await console.start(CLOCK, {"1": "UTC"})
    [round_] = await wait_for(lambda: console.pending(task_id))
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

    run = await console.wait_for_status(task_id, "completed", acknowledged=True)
    assert "2026-11-29T17:00:02Z" in run["result"]
    assert run["agent_name"] == "Clock"
    assert run["rounds"][0]["state"] == "submitted"
    assert run["rounds"][0]["results"][0]["answered_by"] == "person: api (token tests)"
    assert await console.pending(task_id) == []


async def test_submit_twice_refused_second_time(console: Console, runtime: Runtime):
    task_id = await console.start(CLOCK)
    round_ = await console.pending_round(task_id)
    results = {"results": [{"tool_call_id": round_["tool_calls"][0]["tool_call_id"], "output": "noon"}]}
    first = await console.post(f"/api/rounds/{round_['id']}/responses", json=results)
    second = await console.post(f"/api/rounds/{round_['id']}/responses", json=results)
    assert first.status_code == 200
    assert second.status_code == 409
    assert "nothing was sent" in second.json()["error"]["message"]
    assert runtime.simulator is not None and len(runtime.simulator.received) == 1


async def test_start_run_unknown_agent_shows_platform_404(console: Console):
    response = await console.post("/api/agents/no-such-agent/runs", json={})
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"


async def test_start_run_bad_body_is_422_in_contract_shape(console: Console):
    response = await console.post(
        f"/api/agents/{CLOCK}/runs", content=b"{not json", headers={"content-type": "application/json"}
    )
    assert response.status_code == 422
    assert response.json()["error"]["code"] == "bad_body"


async def test_get_unknown_run_is_404(console: Console):
    response = await console.get("/api/runs/999999")
    assert response.status_code == 404
    assert "999999" in response.json()["error"]["message"]


async def test_get_run_with_non_integer_id_is_422(console: Console):
    response = await console.get("/api/runs/abc")
    assert response.status_code == 422
    assert response.json()["error"]["code"] == "bad_request"


async def test_started_run_timeline_begins_with_the_start(console: Console):
    task_id = await console.start(CLOCK)
    await console.pending_round(task_id)
    kinds = [event["kind"] for event in (await console.run(task_id))["events"]]
    assert kinds[0] == "started" and "state" in kinds


HUGE = str(2**63)  # one past SQLite's 64-bit INTEGER


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", f"/api/runs/{HUGE}"),
        ("GET", f"/api/rounds/{HUGE}"),
        ("GET", f"/api/deliveries/{HUGE}"),
        ("GET", f"/api/deliveries?task_id={HUGE}"),
        ("GET", f"/api/runs?page={HUGE}"),
        ("POST", f"/api/rounds/{HUGE}/responses"),
    ],
    ids=["run", "round", "delivery", "deliveries-task_id", "runs-page", "submit"],
)
async def test_get_id_beyond_int64_is_4xx_not_500(console: Console, method: str, path: str):
    """Regression: OverflowError binding the id into SQLite -> 500 Internal Server Error (plain text)."""
    body = {"results": [{"tool_call_id": "call_1", "output": "x"}]} if method == "POST" else None
    response = await console.request(method, path, json=body)
    assert 400 <= response.status_code < 500, (response.status_code, response.text)
    assert "error" in response.json()


async def test_start_run_agent_id_with_control_character_is_4xx(console: Console):
    """``POST /api/agents/a%0Ab/runs``: before the fix httpx.InvalidURL escapes the client -> 500."""
    response = await console.post("/api/agents/a%0Ab/runs", json={})
    assert 400 <= response.status_code < 500, (response.status_code, response.text)
    assert "error" in response.json()
