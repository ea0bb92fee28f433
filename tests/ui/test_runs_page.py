"""The runs page: filters kept in the URL, server-side pages, live status."""

from __future__ import annotations

import httpx
from nicegui import ui
from nicegui.testing import User

from tests.builders import encode, make_status, sign, wait_for


async def _deliver(console: httpx.AsyncClient, body: dict, msg_id: str) -> None:
    raw = encode(body)
    assert (await console.post("/webhooks/sudoiq", content=raw, headers=sign(raw, msg_id=msg_id))).status_code == 200


async def test_runs_page_filter_from_url_shows_matching_runs(user: User, console: httpx.AsyncClient):
    await _deliver(console, make_status(8101, status="failed", sequence=4), "m1")
    await _deliver(console, make_status(8102, status="completed", sequence=4, result="ok"), "m2")
    await user.open("/runs?status=failed")
    await user.should_see("1 run(s)")
    assert _rows(user) == {8101: "failed"}


async def test_runs_page_search_narrows_and_updates_live(user: User, console: httpx.AsyncClient):
    await _deliver(
        console, make_status(8201, tool_calls=[{"id": "c", "name": "book_hotel", "arguments": {"city": "Porto"}}]), "m1"
    )
    await _deliver(console, make_status(8202), "m2")
    await user.open("/runs")
    await user.should_see("2 run(s)")
    user.find(marker="runs-search").type("porto")
    await user.should_see("1 run(s)")
    assert _rows(user) == {8201: "awaiting_tool_calls"}
    await _deliver(console, make_status(8201, status="completed", sequence=9, result="done"), "m3")
    await wait_for(lambda: _rows(user) == {8201: "completed"})


async def test_runs_page_bad_filter_in_url_is_reset_with_message(user: User, console: httpx.AsyncClient):
    await user.open("/runs?sort=password")
    await user.should_see("Some filters in the address were not understood")


def _rows(user: User) -> dict[int, str]:
    [table] = user.find(marker="runs-table").elements
    assert isinstance(table, ui.table)
    return {row["task_id"]: row["status"] for row in table.rows}


async def test_run_page_cancel_then_run_again(user: User, console: httpx.AsyncClient):
    clock = "3f1c2a7e-5b8d-4e0a-9c61-0c1e2d3a4b01"
    task_id = (await console.post(f"/api/agents/{clock}/runs", json={"string_inputs": {"1": "Asia/Tokyo"}})).json()[
        "task_id"
    ]

    async def status() -> str:
        return (await console.get(f"/api/runs/{task_id}")).json()["status"]

    await wait_for(lambda: _is(status, "awaiting_tool_calls"))
    await user.open(f"/runs/{task_id}")
    await user.should_see(marker="expires-in")
    user.find(marker="cancel-run").click()
    await user.should_see("Cancel sent")
    await wait_for(lambda: _is(status, "cancelled"))
    await user.should_not_see(marker="cancel-run")
    user.find(marker="run-again").click()
    await user.should_see(f"Run {task_id + 1}")
    again = (await console.get(f"/api/runs/{task_id + 1}")).json()
    assert again["string_inputs"] == {"1": "Asia/Tokyo"}


async def _is(reader, wanted: str) -> bool:
    return await reader() == wanted


async def test_run_page_replay_to_round_opens_new_run(user: User, console: httpx.AsyncClient):
    clock = "3f1c2a7e-5b8d-4e0a-9c61-0c1e2d3a4b01"
    task_id = (await console.post(f"/api/agents/{clock}/runs", json={})).json()["task_id"]

    async def pending() -> list:
        return [r for r in (await console.get("/api/rounds")).json() if r["task_id"] == task_id]

    [round_] = await wait_for(pending)
    call_id = round_["tool_calls"][0]["tool_call_id"]
    await console.post(
        f"/api/rounds/{round_['id']}/responses", json={"results": [{"tool_call_id": call_id, "output": "half past"}]}
    )

    async def completed() -> bool:
        return (await console.get(f"/api/runs/{task_id}")).json()["status"] == "completed"

    await wait_for(completed)
    await user.open(f"/runs/{task_id}")
    await user.should_see(marker="replay-run")
    user.find(marker="replay-run").click()
    user.find(marker="replay-start").click()
    await user.should_see(marker="replay-of")

    async def replay_completed() -> dict:
        run = (await console.get(f"/api/runs/{task_id + 1}")).json()
        return run if run["status"] == "completed" else {}

    run = await wait_for(replay_completed)
    assert run["result"] == "The current time in UTC is half past."
