"""Run demo in a real browser: it asks first, then every demo agent runs to completion unattended with the demo's
own handlers, the Runs page follows, and a person's saved handler stays as it was."""

from __future__ import annotations

from playwright.sync_api import Page, expect

from tests.e2e.support import Console, go_to, open_path


def test_run_demo_completes_every_agent_live(page: Page, server: Console):
    before = {run["task_id"] for run in server.http.get("/api/runs").json()["runs"]}
    mine = server.http.post(
        "/api/handlers",
        json={
            "agent_id": server.agent_id("Clock"),
            "tool_name": "get_current_time",
            "kind": "static",
            "mode": "manual",
            "spec": {"output": "mine"},
        },
    ).json()
    try:
        open_path(page, "/agents")
        page.get_by_role("button", name="Run demo").click()
        dialog = page.get_by_role("dialog")
        expect(dialog).to_contain_text("Starts 4 run(s)")
        expect(dialog).to_contain_text("Your saved handlers and their modes stay as they are")
        dialog.get_by_role("button", name="Start demo").click()
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
        after = server.http.get(f"/api/handlers/{mine['id']}").json()
        assert (after["mode"], after["version"], after["spec"]) == ("manual", mine["version"], mine["spec"])
    finally:
        server.http.delete(f"/api/handlers/{mine['id']}")
