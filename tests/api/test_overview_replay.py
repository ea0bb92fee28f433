"""Overview numbers must match the data: who answered a round."""

from __future__ import annotations

from tests.builders import CLOCK, Console


async def test_overview_after_replay_counts_person_rounds_once(console: Console):
    """Regression: A replayed round is submitted by the console from the original's answers (``answered_by`` "replay of run
    N"), yet the latency by answerer and the per-minute count put it under "person": one round answered by hand shows as
    two, and the person's p50 latency drops to the replay's few milliseconds."""
    task_id = await console.start(CLOCK)
    await console.answer(await console.pending_round(task_id), {"get_current_time": "half past"}, answered_by="ci")
    replayed = (await console.post(f"/api/runs/{task_id}/replay", json={"until_round": 1})).json()["task_id"]
    await console.wait_for_status(replayed, "completed", acknowledged=True)
    data = (await console.get("/api/overview")).json()
    assert {item["answerer"]: item["rounds"] for item in data["latency"]}.get("person") == 1
    assert sum(minute["person"] for minute in data["rounds_per_minute"]) == 1
