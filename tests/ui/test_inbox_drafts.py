"""Handlers in the inbox: a suggestion pre-fills the form; a person approves or edits it."""

from __future__ import annotations

import httpx
from nicegui.testing import User

from app.runtime import Runtime
from tests.builders import wait_for

TRIP = "3f1c2a7e-5b8d-4e0a-9c61-0c1e2d3a4b02"


async def test_suggestion_prefills_and_person_completes_round(user: User, console: httpx.AsyncClient, runtime: Runtime):
    saved = await console.post(
        "/api/handlers",
        json={
            "agent_id": TRIP,
            "tool_name": "get_weather",
            "kind": "static",
            "mode": "suggest",
            "spec": {"output": "Drizzle, 11 °C"},
        },
    )
    assert saved.status_code == 200, saved.text
    await user.open("/")
    task_id = (await console.post(f"/api/agents/{TRIP}/runs", json={})).json()["task_id"]
    await user.should_see(f"run {task_id} · round 1")
    [round_] = (await console.get("/api/rounds")).json()
    calls = {c["name"]: c["tool_call_id"] for c in round_["tool_calls"]}
    await user.should_see("suggested by static handler v1", retries=50)
    await user.should_see("Drizzle, 11 °C")
    user.find(marker=f"result-{calls['search_flights']}").type("TP 1351")
    user.find(marker=f"submit-{round_['id']}").click()
    await user.should_see(f"Round 1 of run {task_id} sent")

    async def answered() -> list:
        run = (await console.get(f"/api/runs/{task_id}")).json()
        return run["rounds"][0]["results"]

    results = {r["tool_call_id"]: (r["output"], r["answered_by"]) for r in await wait_for(answered)}
    assert results == {
        calls["get_weather"]: ("Drizzle, 11 °C", "static handler v1"),
        calls["search_flights"]: ("TP 1351", "person (console)"),
    }


async def test_save_as_rule_from_run_page(user: User, console: httpx.AsyncClient):
    clock = "3f1c2a7e-5b8d-4e0a-9c61-0c1e2d3a4b01"
    task_id = (await console.post(f"/api/agents/{clock}/runs", json={})).json()["task_id"]

    async def pending() -> list:
        return [r for r in (await console.get("/api/rounds")).json() if r["task_id"] == task_id]

    [round_] = await wait_for(pending)
    call_id = round_["tool_calls"][0]["tool_call_id"]
    await console.post(
        f"/api/rounds/{round_['id']}/responses", json={"results": [{"tool_call_id": call_id, "output": "quarter past"}]}
    )
    await user.open(f"/runs/{task_id}")
    await user.should_see(marker=f"save-rule-{call_id}")
    user.find(marker=f"save-rule-{call_id}").click()
    await user.should_see("Saved as a rule of get_current_time")
    [handler] = (await console.get("/api/handlers")).json()
    assert handler["kind"] == "rules" and handler["spec"]["rules"][0]["response"]["output"] == "quarter past"
