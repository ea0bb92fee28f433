"""The overview page: number cards and charts, empty states, live updates coalesced."""

from __future__ import annotations

import asyncio
import time
from itertools import pairwise
from typing import Any

import pytest
from nicegui import ui
from nicegui.testing import User

from app.changes import changes
from app.services import overview
from app.ui.pages import overview as overview_page
from tests.builders import Console, encode, make_status, sign, wait_for


async def test_overview_page_shows_cards_and_charts(user: User, console: Console):
    await console.deliver(make_status(8601), "m1")
    await console.deliver(make_status(8602, status="completed", sequence=4, result="ok"), "m2")
    refused = encode(make_status(8603))
    await console.post_webhook(refused, sign(refused, msg_id="m3", timestamp=1e9))

    await user.open("/overview")

    await wait_for(lambda: _card(user, "runs-total") == "2")
    assert [_card(user, name) for name in ("runs-awaiting-person", "deliveries-last-hour", "refused-last-hour")] == [
        "1",
        "3",
        "1",
    ]
    status = _options(user, "overview-status")
    assert dict(zip(status["xAxis"]["data"], _values(status), strict=True)) == {
        "awaiting_tool_calls": 1,
        "completed": 1,
    }
    verdicts = _options(user, "overview-verdicts")
    assert dict(zip(verdicts["xAxis"]["data"], _values(verdicts), strict=True))["bad_timestamp"] == 1
    assert not status["title"]["show"]


async def test_overview_page_empty_database_shows_hint(user: User):
    await user.open("/overview")
    await wait_for(lambda: _card(user, "runs-total") == "0")
    for marker in ("overview-status", "overview-minutes", "overview-latency", "overview-verdicts"):
        title = _options(user, marker)["title"]
        assert title["show"]
        assert title["subtext"] == "Start a run on the Agents page, or press Run demo"


async def test_overview_page_new_delivery_updates_counts_live(user: User, console: Console):
    await console.deliver(make_status(8701), "m1")
    await user.open("/overview")
    await wait_for(lambda: _card(user, "deliveries-last-hour") == "1")
    chart = _chart(user, "overview-status")

    await console.deliver(make_status(8702, status="failed", sequence=4), "m2")

    await wait_for(lambda: _card(user, "deliveries-last-hour") == "2", within=2)
    assert _card(user, "runs-total") == "2"
    assert _chart(user, "overview-status") is chart  # updated in place, not rebuilt
    assert dict(zip(chart.options["xAxis"]["data"], _values(chart.options), strict=True)) == {
        "awaiting_tool_calls": 1,
        "failed": 1,
    }


async def test_overview_page_sends_only_the_charts_whose_figures_changed(
    user: User, console: Console, monkeypatch: pytest.MonkeyPatch
):
    """A delivery that opens a round changes runs by status and deliveries by verdict, not rounds answered per
    minute or answer latency: those two charts are not sent to the browser again (each Overview tab, each change)."""
    await console.deliver(make_status(8711), "m1")
    await user.open("/overview")
    await wait_for(lambda: _card(user, "deliveries-last-hour") == "1")
    sent: list[str] = []
    for marker in ("overview-status", "overview-minutes", "overview-latency", "overview-verdicts"):
        chart = _chart(user, marker)
        monkeypatch.setattr(chart, "update", lambda marker=marker, update=chart.update: (sent.append(marker), update()))

    await console.deliver(make_status(8712), "m2")

    await wait_for(lambda: _card(user, "deliveries-last-hour") == "2", within=2)
    assert set(sent) == {"overview-status", "overview-verdicts"}  # setting options updates too: once or more
    status = _options(user, "overview-status")
    assert dict(zip(status["xAxis"]["data"], _values(status), strict=True)) == {"awaiting_tool_calls": 2}


async def test_overview_page_burst_of_changes_recomputes_a_few_times(
    user: User, console: Console, monkeypatch: pytest.MonkeyPatch
):
    calls: list[float] = []
    real = overview.overview

    def counted(**kwargs: Any) -> overview.Overview:
        calls.append(time.monotonic())
        return real(**kwargs)

    monkeypatch.setattr(overview_page.overview, "overview", counted)
    await user.open("/overview")
    await wait_for(lambda: calls)
    await wait_for(lambda: _card(user, "runs-total") == "0")
    calls.clear()
    await console.deliver(make_status(8801), "m1")  # one change among the burst that the page must show

    started = time.monotonic()
    for _ in range(100):  # 100 changes in a second (longer on a busy machine)
        changes.emit(8801)
        await asyncio.sleep(0.01)
    await asyncio.sleep(0.5)
    burst = time.monotonic() - started

    assert 1 <= len(calls) <= 2 + burst / 0.3  # one per throttle period, not one per change
    assert all(b - a >= 0.29 for a, b in pairwise(calls))  # about three a second at most
    assert _card(user, "runs-total") == "1"


def _card(user: User, name: str) -> str:
    [label] = user.find(marker=f"overview-{name}").elements
    assert isinstance(label, ui.label)
    return label.text


def _chart(user: User, marker: str) -> ui.echart:
    [chart] = user.find(marker=marker).elements
    assert isinstance(chart, ui.echart)
    return chart


def _options(user: User, marker: str) -> dict[str, Any]:
    return _chart(user, marker).options


def _values(options: dict[str, Any]) -> list[int]:
    return [point["value"] for point in options["series"][0]["data"]]
