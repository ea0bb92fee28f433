"""``POST /api/runs/bulk``: cancel several runs, or run them again, on the embedded simulator; one result per run."""

from __future__ import annotations

from tests.builders import CLOCK, Console, make_status, wait_for


async def _bulk(console: Console, action: str, task_ids: list[int]) -> dict[int, dict]:
    response = await console.post("/api/runs/bulk", json={"action": action, "task_ids": task_ids})
    assert response.status_code == 200, response.text
    results = response.json()["results"]
    assert [r["task_id"] for r in results] == list(dict.fromkeys(task_ids))
    return {r["task_id"]: r for r in results}


async def test_bulk_cancel_cancels_each_open_run_and_reports_the_rest(console: Console):
    first, second = await console.start(CLOCK), await console.start(CLOCK)
    await console.pending_round(first)
    await console.pending_round(second)
    await console.deliver(make_status(7501, status="completed", sequence=4, round=None, result="ok"), "m_done")
    done = await _bulk(console, "cancel", [first, second, 7501, 999_999, first])
    assert {t: r["outcome"] for t, r in done.items()} == {
        first: "sent",
        second: "sent",
        7501: "skipped",
        999_999: "not_found",
    }
    assert done[7501]["message"] == "already completed: nothing to cancel"
    await console.wait_for_status(first, "cancelled")
    await console.wait_for_status(second, "cancelled")


async def test_bulk_cancel_reports_the_platforms_refusal_per_run(console: Console):
    opened = await console.start(CLOCK)
    await console.pending_round(opened)
    await console.deliver(make_status(7502, status="running", sequence=1, round=None), "m_unknown")
    done = await _bulk(console, "cancel", [7502, opened])
    assert done[7502]["outcome"] == "refused"
    assert done[7502]["message"].startswith("platform answered 404")
    assert done[opened]["outcome"] == "sent"  # one refusal never stops the others
    await console.wait_for_status(7502, "lost")  # the console asked the platform about it once


async def test_bulk_run_again_starts_each_with_its_inputs(console: Console):
    first = await console.start(CLOCK, {"1": "UTC"})
    second = await console.start(CLOCK, {"1": "Europe/Oslo"})
    done = await _bulk(console, "run_again", [first, second])
    assert {r["outcome"] for r in done.values()} == {"started"}
    for original, inputs in ((first, {"1": "UTC"}), (second, {"1": "Europe/Oslo"})):
        started = done[original]["started_task_id"]
        assert started not in (first, second)
        run = await console.run(started)
        assert (run["agent_id"], run["string_inputs"]) == (CLOCK, inputs)
        assert run["started_by"].endswith(f"again from run {original}")
        await wait_for(lambda s=started: console.pending(s))  # the new run really runs on the platform


async def test_bulk_over_the_limit_is_422_naming_it(console: Console):
    response = await console.post("/api/runs/bulk", json={"action": "cancel", "task_ids": list(range(1, 102))})
    assert response.status_code == 422
    assert "101 runs named, at most 100 per request" in response.json()["error"]["message"]


async def test_bulk_limit_counts_distinct_task_ids(console: Console):
    """Regression: 150 copies of one task_id were refused as 150 runs."""
    done = await _bulk(console, "cancel", [999_998] * 150)
    assert done[999_998]["outcome"] == "not_found"


async def test_bulk_task_id_that_is_not_a_json_integer_is_422(console: Console):
    """Regression: ``true`` was read as task_id 1."""
    for wrong in (True, "7", 7.0):
        response = await console.post("/api/runs/bulk", json={"action": "cancel", "task_ids": [wrong, 999_997]})
        assert response.status_code == 422, wrong
        assert "task_ids" in response.json()["error"]["message"]


async def test_bulk_unknown_action_or_no_runs_is_422(console: Console):
    unknown = await console.post("/api/runs/bulk", json={"action": "delete", "task_ids": [1]})
    empty = await console.post("/api/runs/bulk", json={"action": "cancel", "task_ids": []})
    huge = await console.post("/api/runs/bulk", json={"action": "cancel", "task_ids": [2**63]})
    assert (unknown.status_code, empty.status_code, huge.status_code) == (422, 422, 422)
    assert "action" in unknown.json()["error"]["message"]
    assert "task_id" in huge.json()["error"]["message"]


async def test_run_durations_of_an_answered_run_cover_it_end_to_end(console: Console):
    task_id = await console.start(CLOCK)
    round_ = await console.pending_round(task_id)
    await console.answer(round_, {"get_current_time": "noon"})
    await console.wait_for_status(task_id, "completed")
    durations = (await console.get(f"/api/runs/{task_id}/durations")).json()
    bars = [(b["round"], b["kind"]) for b in durations["bars"]]
    assert bars[:3] == [(1, "platform"), (1, "open"), (1, "answered")]
    ends = [b["end"] for b in durations["bars"]]
    assert [b["start"] for b in durations["bars"][1:]] == ends[:-1]  # one after the other, no gap
    assert ends[-1] == durations["total"]
    assert (await console.get("/api/runs/999999/durations")).status_code == 404
