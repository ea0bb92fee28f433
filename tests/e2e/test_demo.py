"""Run demo in a real browser: one click, every demo agent runs to completion unattended, the Runs page follows."""

from __future__ import annotations

from playwright.sync_api import Page, expect

from tests.e2e.support import Console, go_to, open_path


def test_run_demo_completes_every_agent_live(page: Page, server: Console):
    before = {run["task_id"] for run in server.http.get("/api/runs").json()["runs"]}
    try:
        open_path(page, "/agents")
        page.get_by_role("button", name="Run demo").click()
        expect(page.get_by_text("Demo started: 4 run(s)")).to_be_visible()
        go_to(page, "Runs")
        rows = page.locator("tbody tr").filter(has_text="demo")
        expect(rows).to_have_count(4)
        for agent in ("Clock", "Trip planner", "Flaky", "Weather compare"):
            row = rows.filter(has_text=agent)
            expect(row.get_by_text("completed")).to_be_visible(timeout=20_000)
        started = [run for run in server.http.get("/api/runs").json()["runs"] if run["task_id"] not in before]
        assert sorted(run["agent_name"] for run in started) == ["Clock", "Flaky", "Trip planner", "Weather compare"]
        assert {run["status"] for run in started} == {"completed"}
    finally:  # the other browser tests answer by hand: take the demo's auto handlers away again
        for handler in server.http.get("/api/handlers").json():
            server.http.delete(f"/api/handlers/{handler['id']}")
