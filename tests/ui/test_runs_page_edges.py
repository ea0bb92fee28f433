"""Runs page: filters in the URL must round-trip (bookmark → same view) and never break the page."""

from __future__ import annotations

import asyncio

import httpx
import pytest
from nicegui import ui
from nicegui.testing import User

from app.ui.pages import runs as runs_page
from tests.builders import AGENT_ID, encode, make_status, sign, take_errors, wait_for


async def _deliver(console: httpx.AsyncClient, body: dict, msg_id: str) -> None:
    raw = encode(body)
    assert (await console.post("/webhooks/sudoiq", content=raw, headers=sign(raw, msg_id=msg_id))).status_code == 200


def _table(user: User) -> ui.table:
    [table] = user.find(marker="runs-table").elements
    assert isinstance(table, ui.table)
    return table


async def test_open_runs_with_agent_filter_in_url_shows_its_runs(
    user: User, console: httpx.AsyncClient, caplog: pytest.LogCaptureFixture
):
    """Regression: Choosing an agent puts ``agent_id=...`` in the URL; opening that URL must show the same view. The agent
    select is built with only ``{"": "every agent"}`` as options, so any agent_id raises ``Invalid value``."""
    await _deliver(console, make_status(8101, status="failed", sequence=4), "m1")
    await user.open(f"/runs?agent_id={AGENT_ID}")
    await asyncio.sleep(0.2)
    errors = take_errors(caplog)
    assert errors == []
    await user.should_see("1 run(s)")


async def test_type_long_search_in_runs_keeps_url_round_trip(
    user: User, console: httpx.AsyncClient, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
):
    """Regression: the search field took any length (``model_copy`` skipped ``max_length=200``) and put it in the
    URL, and opening that URL reset every filter with a warning."""
    urls: list[str] = []
    real = runs_page._query
    monkeypatch.setattr(runs_page, "_query", lambda where: urls.append(real(where)) or urls[-1])
    await _deliver(console, make_status(8201, status="failed", sequence=4), "m1")
    await user.open("/runs")
    await user.should_see("1 run(s)")
    user.find(marker="runs-search").type("z" * 250)  # a browser stops at 200 (maxlength); here it is refused
    await user.should_see("Filter not applied")
    await user.open(f"/runs?{urls[-1]}")
    await user.should_see(marker="runs-table")
    await user.should_not_see("Some filters in the address were not understood")
    await user.should_see("1 run(s)")


async def test_open_runs_pagination_echo_from_browser_keeps_total(user: User, console: httpx.AsyncClient):
    """Regression: On mount the browser's QTable sends ``update:pagination`` with its initial state (rowsNumber 0, seen on the
    websocket in Chromium). When it arrives after the first refresh, NiceGUI stores it and the footer shows
    "1-0 of 0" with no page buttons although there are more runs (most loads in Chromium)."""
    for task_id in (8301, 8302, 8303):
        await _deliver(console, make_status(task_id, status="completed", sequence=4, result="ok"), f"m{task_id}")
    await user.open("/runs?per_page=2")
    await user.should_see("3 run(s)")
    await wait_for(lambda: _table(user).pagination.get("rowsNumber") == 3)
    echo = {"sortBy": "created_at", "descending": True, "page": 1, "rowsPerPage": 2, "rowsNumber": 0}
    user.find(marker="runs-table").trigger("update:pagination", echo)
    await asyncio.sleep(0.2)
    assert _table(user).pagination.get("rowsNumber") == 3
