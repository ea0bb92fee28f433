"""Case C11 in a real browser: a task_id beyond 2**53 is shown and opened exactly, never rounded to a neighbour."""

from __future__ import annotations

import re

from playwright.sync_api import Page, expect

from tests.e2e.processes import wait_until
from tests.e2e.support import Console, open_path

BIG = 2**53 + 1  # 9007199254740993: a JS number reads it as 9007199254740992


def _run_with_task_id(server: Console, task_id: int) -> None:
    """A completed run with ``task_id``: a stored delivery replayed with an edited body (a console-made run,
    signed with the console's own secret; the embedded simulator never counts that high)."""
    started = server.start_run("Clock", {"1": "UTC"})
    # The run's first delivery arrives after the 202 that started it.
    deliveries = wait_until(
        lambda: server.http.get("/api/deliveries", params={"task_id": started}).json()["deliveries"],
        f"a delivery for run {started}",
    )
    body = {
        "agent_id": server.agent_id("Clock"),
        "task_id": task_id,
        "status": "completed",
        "sequence": 1,
        "result": "big",
    }
    response = server.http.post(f"/api/deliveries/{deliveries[-1]['id']}/replay", json={"body": body})
    assert response.status_code == 200, response.text
    assert server.http.get(f"/api/runs/{task_id}").json()["task_id"] == task_id


def test_runs_table_big_task_id_shown_and_opened_exactly(page: Page, server: Console):
    _run_with_task_id(server, BIG)
    open_path(page, "/runs")
    row = page.locator("tbody tr").filter(has_text=str(BIG))
    expect(row).to_have_count(1)
    row.click()
    expect(page).to_have_url(re.compile(rf"/runs/{BIG}$"))
    expect(page.get_by_text(f"Run {BIG}", exact=True)).to_be_visible()
    expect(page.get_by_text("big", exact=True)).to_be_visible()
