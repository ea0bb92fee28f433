"""A tab in the background is not refreshed (``app.ui.layout.WATCH_VISIBILITY``, ``Live.hold``): the browser's
Page Visibility event reaches the console, and the tab catches up once it is shown again."""

from __future__ import annotations

import time
from collections.abc import Callable

from playwright.sync_api import Locator, Page, expect

from tests.e2e.processes import wait_until
from tests.e2e.support import Console, open_path

SET_STATE = """state => {
  Object.defineProperty(document, 'visibilityState', {value: state, configurable: true});
  Object.defineProperty(document, 'hidden', {value: state === 'hidden', configurable: true});
  document.dispatchEvent(new Event('visibilitychange'));
}"""
"""What a browser does when its tab goes to the background or comes back (headless Chromium's tabs never do)."""


def _row(page: Page, task_id: int) -> Locator:
    return page.locator(".q-table tbody tr").filter(has=page.get_by_text(str(task_id), exact=True))


def _pending(server: Console, task_id: int) -> None:
    wait_until(lambda: server.http.get(f"/api/runs/{task_id}").json()["status"] == "awaiting_tool_calls", "pending")


def test_a_hidden_runs_tab_waits_and_catches_up_when_shown(new_page: Callable[..., Page], server: Console):
    page = new_page()
    open_path(page, "/runs")
    first = server.start_run("Clock", {"1": "UTC"})
    expect(_row(page, first)).to_have_count(1)  # live while on screen

    page.evaluate(SET_STATE, "hidden")
    second = server.start_run("Clock", {"1": "UTC"})
    _pending(server, second)
    time.sleep(1.5)  # several flushes of changes: a tab on screen shows the run well within this
    expect(_row(page, second)).to_have_count(0)

    page.evaluate(SET_STATE, "visible")
    expect(_row(page, second)).to_have_count(1)
