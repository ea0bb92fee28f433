"""The inbox in NiceGUI's simulated browser: rounds appear live, submit rules hold."""

from __future__ import annotations

import httpx
from nicegui.testing import User

from app.runtime import Runtime
from tests.builders import encode, make_status, sign, wait_for

CLOCK = "3f1c2a7e-5b8d-4e0a-9c61-0c1e2d3a4b01"


async def _deliver(console: httpx.AsyncClient, body: dict, msg_id: str) -> None:
    raw = encode(body)
    response = await console.post("/webhooks/sudoiq", content=raw, headers=sign(raw, msg_id=msg_id))
    assert response.status_code == 200, response.text


async def test_round_appears_live_without_reload(user: User, console: httpx.AsyncClient):
    await user.open("/")
    await user.should_see(marker="inbox-empty")
    await _deliver(console, make_status(7101), "msg_live")
    await user.should_see("task 7101 · round 1")
    await user.should_see(marker="result-call_1")


async def test_submit_with_empty_result_refused_naming_call(user: User, console: httpx.AsyncClient, runtime: Runtime):
    calls = [
        {"id": "call_a", "name": "get_current_time", "arguments": {"timezone": "UTC"}},
        {"id": "call_b", "name": "get_weather", "arguments": {"city": "Porto"}},
    ]
    await _deliver(console, make_status(7006, tool_calls=calls), "msg_c06")
    await user.open("/")
    await user.should_see("task 7006 · round 1")
    user.find(marker="result-call_a").type("12:00")
    rounds = (await console.get("/api/rounds")).json()
    user.find(marker=f"submit-{rounds[0]['id']}").click()
    await user.should_see("call_b (get_weather) has no result")
    assert (await console.get("/api/rounds")).json()[0]["state"] == "pending"


async def test_answer_clock_round_in_inbox_completes_run(user: User, console: httpx.AsyncClient, runtime: Runtime):
    await user.open("/")
    task_id = (await console.post(f"/api/agents/{CLOCK}/runs", json={"string_inputs": {"1": "Europe/Lisbon"}})).json()[
        "task_id"
    ]
    await user.should_see(f"task {task_id} · round 1")
    [round_] = (await console.get("/api/rounds")).json()
    call_id = round_["tool_calls"][0]["tool_call_id"]
    user.find(marker=f"result-{call_id}").type("2026-11-29T18:00:00+00:00")
    user.find(marker=f"submit-{round_['id']}").click()
    await user.should_see(f"Round 1 of task {task_id} sent")
    await user.should_not_see(f"task {task_id} · round 1")
    assert runtime.simulator is not None
    assert [body.results[0].output for _, body in runtime.simulator.received] == ["2026-11-29T18:00:00+00:00"]

    async def completed() -> bool:
        return (await console.get(f"/api/runs/{task_id}")).json()["status"] == "completed"

    await wait_for(completed)
    await user.open(f"/runs/{task_id}")
    await user.should_see("The current time in Europe/Lisbon is 2026-11-29T18:00:00+00:00.")
    await user.should_see("answered by person (console)")


async def test_second_tab_sees_round_leave_when_first_answers(create_user, console: httpx.AsyncClient):
    first, second = create_user(), create_user()
    await first.open("/")
    await second.open("/")
    await _deliver(console, make_status(7201), "msg_two_tabs")
    await first.should_see("task 7201 · round 1")
    await second.should_see("task 7201 · round 1")
    [round_] = (await console.get("/api/rounds")).json()
    first.find(marker="result-call_1").type("noon")
    first.find(marker=f"submit-{round_['id']}").click()
    await second.should_not_see("task 7201 · round 1")
