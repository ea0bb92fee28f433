"""The Runs page's first rows in the page's first HTML (``app.ui.pages.runs_preview``): on screen before the page's
scripts run, their links working; gone once the page's own table is drawn."""

from __future__ import annotations

import re
from collections.abc import Callable

from playwright.sync_api import Browser, Page, StorageState, expect

from tests.e2e.processes import wait_until
from tests.e2e.support import Console, go_to, open_path


def test_first_rows_show_without_scripts_and_link_to_their_run(
    browser: Browser, server: Console, signed_in: StorageState
):
    task_id = server.start_run("Clock", {"1": "UTC"})
    wait_until(lambda: server.http.get(f"/api/runs/{task_id}").json()["status"] == "awaiting_tool_calls", "pending")
    context = browser.new_context(base_url=server.url, java_script_enabled=False, storage_state=signed_in)
    try:
        page = context.new_page()
        page.goto("/runs")
        preview = page.locator("#runs-preview")
        expect(preview.get_by_role("columnheader", name="task_id")).to_be_visible()
        link = preview.get_by_role("link", name=str(task_id), exact=True)
        expect(link).to_be_visible()
        expect(link).to_have_attribute("href", f"/runs/{task_id}")
        row = preview.locator("tbody tr").filter(has=page.get_by_role("link", name=str(task_id), exact=True))
        expect(row).to_contain_text("awaiting_tool_calls")
    finally:
        context.close()


def test_page_table_replaces_the_first_rows(new_page: Callable[..., Page], server: Console):
    task_id = server.start_run("Clock", {"1": "UTC"})
    wait_until(lambda: server.http.get(f"/api/runs/{task_id}").json()["status"] == "awaiting_tool_calls", "pending")
    page = new_page()
    open_path(page, "/runs")
    expect(page.locator("#runs-preview")).to_have_count(0)  # removed once the page is connected
    expect(page.locator(".q-table tbody tr").filter(has=page.get_by_text(str(task_id), exact=True))).to_have_count(1)
    for _ in range(3):  # moving to Runs within the open tab: the page's own table at once, no preview again
        go_to(page, "Agents")
        expect(page).to_have_url(re.compile(r"/agents$"))
        go_to(page, "Runs")
        expect(page.locator(".q-table tbody tr").filter(has=page.get_by_text(str(task_id), exact=True))).to_have_count(
            1
        )
    expect(page.locator("#runs-preview")).to_have_count(0)
    styles = "[...document.querySelectorAll('style')].filter(s => s.textContent.includes('runs-preview')).length"
    assert page.evaluate(styles) == 1  # the first response's only
