"""The runs page: filters kept in the URL, server-side pages, live status."""

from __future__ import annotations

import asyncio

import pytest
from nicegui import ui
from nicegui.testing import User

from app.runtime import Runtime
from app.ui.pages import runs as runs_page
from tests.builders import (
    AGENT_ID,
    Console,
    foreground,
    make_status,
    set_value,
    settled,
    statements,
    take_errors,
    wait_for,
)


async def test_runs_page_filter_from_url_shows_matching_runs(user: User, console: Console):
    await console.deliver(make_status(8101, status="failed", sequence=4), "m1")
    await console.deliver(make_status(8102, status="completed", sequence=4, result="ok"), "m2")
    await user.open("/runs?status=failed")
    await user.should_see("1 run(s)")
    assert _rows(user) == {8101: "failed"}


async def test_runs_page_search_narrows_and_updates_live(user: User, console: Console):
    await console.deliver(
        make_status(8201, tool_calls=[{"id": "c", "name": "book_hotel", "arguments": {"city": "Porto"}}]), "m1"
    )
    await console.deliver(make_status(8202), "m2")
    await user.open("/runs")
    await user.should_see("2 run(s)")
    user.find(marker="runs-search").type("porto")
    await user.should_see("1 run(s)")
    assert _rows(user) == {8201: "awaiting_tool_calls"}
    await console.deliver(make_status(8201, status="completed", sequence=9, result="done"), "m3")
    await wait_for(lambda: _rows(user) == {8201: "completed"})


async def test_runs_page_bad_filter_in_url_is_reset_with_message(user: User, console: Console):
    await user.open("/runs?sort=password")
    await user.should_see("Some filters in the address were not understood")


def _rows(user: User) -> dict[int, str]:
    [table] = user.find(marker="runs-table").elements
    assert isinstance(table, ui.table)
    return {int(row["task_id"]): row["status"] for row in table.rows}


def _table(user: User) -> ui.table:
    [table] = user.find(marker="runs-table").elements
    assert isinstance(table, ui.table)
    return table


async def test_open_runs_with_agent_filter_in_url_shows_its_runs(
    user: User, console: Console, caplog: pytest.LogCaptureFixture
):
    """Regression: Choosing an agent puts ``agent_id=...`` in the URL; opening that URL must show the same view. The agent
    select is built with only ``{"": "every agent"}`` as options, so any agent_id raises ``Invalid value``."""
    await console.deliver(make_status(8101, status="failed", sequence=4), "m1")
    await user.open(f"/runs?agent_id={AGENT_ID}")
    await user.should_see("1 run(s)")
    assert take_errors(caplog) == []


async def test_type_long_search_in_runs_keeps_url_round_trip(
    user: User, console: Console, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
):
    """Regression: the search field took any length (``model_copy`` skipped ``max_length=200``) and put it in the
    URL, and opening that URL reset every filter with a warning."""
    urls: list[str] = []
    real = runs_page._query
    monkeypatch.setattr(runs_page, "_query", lambda where: urls.append(real(where)) or urls[-1])
    await console.deliver(make_status(8201, status="failed", sequence=4), "m1")
    await user.open("/runs")
    await user.should_see("1 run(s)")
    user.find(marker="runs-search").type("z" * 250)  # a browser stops at 200 (maxlength); here it is refused
    await user.should_see("Filter not applied")
    # a filter that applies puts the filters in the URL (the first rows came with the page: no URL was made then)
    await settled(lambda: set_value(user, "runs-status", "failed"))
    await wait_for(lambda: urls)
    assert not any("z" * 201 in url for url in urls), urls
    await user.open(f"/runs?{urls[-1]}")
    await user.should_see(marker="runs-table")
    await user.should_not_see("Some filters in the address were not understood")
    await user.should_see("1 run(s)")


async def test_open_runs_pagination_echo_from_browser_keeps_total(user: User, console: Console):
    """Regression: On mount the browser's QTable sends ``update:pagination`` with its initial state (rowsNumber 0, seen on the
    websocket in Chromium). When it arrives after the first refresh, NiceGUI stores it and the footer shows
    "1-0 of 0" with no page buttons although there are more runs (most loads in Chromium)."""
    for task_id in (8301, 8302, 8303):
        await console.deliver(make_status(task_id, status="completed", sequence=4, result="ok"), f"m{task_id}")
    await user.open("/runs?per_page=2")
    await user.should_see("3 run(s)")
    await wait_for(lambda: _table(user).pagination.get("rowsNumber") == 3)
    echo = {"sortBy": "created_at", "descending": True, "page": 1, "rowsPerPage": 2, "rowsNumber": 0}
    await settled(lambda: user.find(marker="runs-table").trigger("update:pagination", echo))
    assert _table(user).pagination.get("rowsNumber") == 3


async def test_runs_page_live_update_with_many_pending_rounds_reads_few_statements(
    user: User, console: Console, runtime: Runtime
):
    """Every open tab follows every delivery: what each one reads must not grow with the inbox."""
    for n in range(60):
        await console.deliver(make_status(8700 + n), f"m_pending_{n}")
    await user.open("/runs")
    await user.should_see("60 run(s)")
    with statements(runtime.engine) as seen:
        await console.deliver(make_status(8800, status="running", sequence=1), "m_running")
        await user.should_see("61 run(s)", retries=30)  # after the burst of 60 the next flush waits a second
        await asyncio.sleep(0.3)
    assert user.find(marker="inbox-count").elements.pop().text == "60"
    sqls = foreground(seen)
    assert 0 < len(sqls) < 40, f"{len(sqls)} statements for one delivery with one tab open: {sqls}"
