"""Replay to round k: the same agent and inputs, rounds 1..k answered as in the original, k+1 left to a person."""

from __future__ import annotations

from app.runtime import Runtime
from tests.builders import TRIP, Console


async def test_replay_to_round_1_answers_it_and_leaves_round_2(console: Console, runtime: Runtime):
    original = await console.start(TRIP, {"1": "Bergen"})
    await console.answer(
        await console.pending_round(original, 1), {"get_weather": "Rain, 8 °C", "search_flights": "SK 4609"}
    )
    await console.answer(await console.pending_round(original, 2), {"book_umbrella": "umbrella at arrivals"})

    response = await console.post(f"/api/runs/{original}/replay", json={"until_round": 1})
    assert response.status_code == 202, response.text
    replayed = response.json()["task_id"]
    second = await console.pending_round(replayed, 2)  # round 1 was answered from the original run
    assert [c["name"] for c in second["tool_calls"]] == ["book_umbrella"]
    run = await console.wait_for_status(replayed, "awaiting_tool_calls", acknowledged=True)  # round 1's answer stored
    assert (run["replay_of"], run["replay_until"]) == (original, 1)
    first = run["rounds"][0]
    assert {r["output"] for r in first["results"]} == {"Rain, 8 °C", "SK 4609"}
    assert first["answered_by"] == f"replay of run {original}"
    sent = [body for task, body in runtime.simulator.received if task == replayed]  # type: ignore[union-attr]
    assert [sorted(r.output for r in body.results) for body in sent] == [["Rain, 8 °C", "SK 4609"]]
    source = await console.run(original)
    assert any(f"replayed as run {replayed}" in event["summary"] for event in source["events"])


async def test_replay_beyond_answered_rounds_is_422(console: Console):
    original = await console.start(TRIP)
    await console.pending_round(original, 1)
    response = await console.post(f"/api/runs/{original}/replay", json={"until_round": 3})
    assert response.status_code == 422
    assert "replay to a round from 0 to 0" in response.json()["error"]["message"]
