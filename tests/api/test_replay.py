"""Replay to round k: the same agent and inputs, rounds 1..k answered as in the original, k+1 left to a person."""

from __future__ import annotations

import httpx

from app.runtime import Runtime
from tests.builders import wait_for

TRIP = "3f1c2a7e-5b8d-4e0a-9c61-0c1e2d3a4b02"


async def _pending(console: httpx.AsyncClient, task_id: int, number: int) -> dict:
    async def found() -> list:
        return [
            r for r in (await console.get("/api/rounds")).json() if r["task_id"] == task_id and r["round"] == number
        ]

    return (await wait_for(found))[0]


async def _answer(console: httpx.AsyncClient, round_: dict, outputs: dict[str, str]) -> None:
    results = [{"tool_call_id": c["tool_call_id"], "output": outputs[c["name"]]} for c in round_["tool_calls"]]
    response = await console.post(f"/api/rounds/{round_['id']}/responses", json={"results": results})
    assert response.status_code == 200, response.text


async def test_replay_to_round_1_answers_it_and_leaves_round_2(console: httpx.AsyncClient, runtime: Runtime):
    original = (await console.post(f"/api/agents/{TRIP}/runs", json={"string_inputs": {"1": "Bergen"}})).json()[
        "task_id"
    ]
    await _answer(
        console, await _pending(console, original, 1), {"get_weather": "Rain, 8 °C", "search_flights": "SK 4609"}
    )
    await _answer(console, await _pending(console, original, 2), {"book_umbrella": "umbrella at arrivals"})

    response = await console.post(f"/api/runs/{original}/replay", json={"until_round": 1})
    assert response.status_code == 202, response.text
    replayed = response.json()["task_id"]
    second = await _pending(console, replayed, 2)  # round 1 was answered from the original run
    assert [c["name"] for c in second["tool_calls"]] == ["book_umbrella"]
    run = (await console.get(f"/api/runs/{replayed}")).json()
    assert (run["replay_of"], run["replay_until"]) == (original, 1)
    first = run["rounds"][0]
    assert {r["output"] for r in first["results"]} == {"Rain, 8 °C", "SK 4609"}
    assert first["answered_by"] == f"replay of run {original}"
    sent = [body for task, body in runtime.simulator.received if task == replayed]  # type: ignore[union-attr]
    assert [sorted(r.output for r in body.results) for body in sent] == [["Rain, 8 °C", "SK 4609"]]
    source = (await console.get(f"/api/runs/{original}")).json()
    assert any(f"replayed as run {replayed}" in event["summary"] for event in source["events"])


async def test_replay_beyond_answered_rounds_is_422(console: httpx.AsyncClient):
    original = (await console.post(f"/api/agents/{TRIP}/runs", json={})).json()["task_id"]
    await _pending(console, original, 1)
    response = await console.post(f"/api/runs/{original}/replay", json={"until_round": 3})
    assert response.status_code == 422
    assert "replay to a round from 0 to 0" in response.json()["error"]["message"]
