"""Runs in bulk in a real browser: a row's checkbox selects the run without opening it, the header checkbox selects
the page, and *Cancel selected* cancels the runs chosen; the run page draws its duration chart."""

from __future__ import annotations

import re

from playwright.sync_api import Page, expect

from tests.e2e.processes import wait_until
from tests.e2e.support import Console, open_path


def test_runs_page_checkboxes_select_then_cancel_selected(page: Page, server: Console):
    first, second = server.start_run("Clock", {"1": "UTC"}), server.start_run("Clock", {"1": "UTC"})
    for task_id in (first, second):
        wait_until(
            lambda t=task_id: server.http.get(f"/api/runs/{t}").json()["status"] == "awaiting_tool_calls",
            f"run {task_id} pending",
        )
    open_path(page, "/runs")
    rows = {t: page.locator("tbody tr").filter(has=page.get_by_text(str(t), exact=True)) for t in (first, second)}
    expect(rows[first]).to_have_count(1)
    rows[first].get_by_role("checkbox").click()
    expect(page.get_by_text("1 run selected")).to_be_visible()
    expect(page).to_have_url(re.compile(r"/runs(\?.*)?$"))  # the checkbox did not open the run
    header = page.locator("thead").get_by_role("checkbox")
    header.click()  # with some selected, Quasar's header checkbox clears the selection
    expect(page.get_by_role("button", name="Cancel selected")).to_be_hidden()
    header.click()  # then selects every run of the page
    shown = page.locator("tbody tr").count()
    expect(page.get_by_text(f"{shown} runs selected")).to_be_visible()
    page.get_by_role("button", name="Clear selection").click()
    expect(page.get_by_role("button", name="Cancel selected")).to_be_hidden()
    for task_id in (first, second):
        rows[task_id].get_by_role("checkbox").click()
    expect(page.get_by_text("2 runs selected")).to_be_visible()
    page.get_by_role("button", name="Cancel selected").click()
    dialog = page.locator(".q-dialog")
    expect(dialog.get_by_text("cancel sent: the platform's webhook will confirm it")).to_have_count(2)
    for task_id in (first, second):
        wait_until(
            lambda t=task_id: server.http.get(f"/api/runs/{t}").json()["status"] == "cancelled",
            f"run {task_id} cancelled",
        )


def test_run_page_draws_the_duration_chart(page: Page, server: Console):
    task_id = server.start_run("Clock", {"1": "UTC"})
    wait_until(lambda: server.http.get(f"/api/runs/{task_id}").json()["status"] == "awaiting_tool_calls", "pending")
    open_path(page, f"/runs/{task_id}")
    expect(page.get_by_text("round 1: waiting on the platform", exact=False)).to_be_visible()
    expect(page.locator("canvas").first).to_be_visible()  # ECharts drew the Gantt
