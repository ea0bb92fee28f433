"""Leaving the Overview before its charts are drawn (``app.ui.components.chart``): the browser logs no error.

The ECharts bundle is held back until the person has already gone on to another page, so the charts are
mounted and removed before their ``mounted`` has made the ECharts instances, every time."""

from __future__ import annotations

import threading

from playwright.sync_api import ConsoleMessage, Page, Route, expect

from tests.e2e.processes import wait_until
from tests.e2e.support import go_to, open_path


def test_leaving_the_overview_before_its_charts_are_drawn_logs_no_error(page: Page):
    errors: list[str] = []
    page.on("console", lambda message: _note_error(message, errors))
    page.on("pageerror", lambda error: errors.append(str(error)))
    held: list[Route] = []
    released = threading.Event()

    def hold(route: Route) -> None:
        if released.is_set():
            route.continue_()
        else:
            held.append(route)

    page.route("**/_nicegui/*/esm/**", hold)
    open_path(page, "/")

    go_to(page, "Overview")
    # page.wait_for_timeout lets Playwright call the route handler meanwhile (it returns None: not yet)
    wait_until(lambda: bool(held) or page.wait_for_timeout(100), "the Overview asks for the ECharts module")
    go_to(page, "Agents")
    page.wait_for_timeout(1000)  # the Agents page's update waits behind the held bundle
    released.set()
    for route in held:
        route.continue_()

    expect(page.get_by_role("button", name="Run demo")).to_be_visible()
    page.wait_for_timeout(500)
    assert errors == []
    go_to(page, "Overview")  # and back: the charts draw
    expect(page.locator("canvas")).to_have_count(4)
    assert errors == []


def _note_error(message: ConsoleMessage, errors: list[str]) -> None:
    if message.type == "error":
        errors.append(message.text[:300])
