"""The Deliveries page pages by keyset: the next page continues where the one shown ended, even when deliveries
arrive meanwhile; past the count's bound it says "more than"."""

from __future__ import annotations

import asyncio
import threading
from typing import Any

import pytest
from nicegui import ui
from nicegui.testing import User

from app.services import deliveries
from tests.builders import Console, make_status, settled, wait_for


def _table(user: User) -> ui.table:
    [table] = user.find(marker="deliveries-table").elements
    assert isinstance(table, ui.table)
    return table


def _sequences(user: User) -> list[str]:
    return [row["sequence"] for row in _table(user).rows]


async def _deliver(console: Console, task_id: int, sequences: range) -> None:
    for sequence in sequences:
        status = make_status(task_id, status="running", sequence=sequence, round=None)
        await console.deliver(status, f"m_{task_id}_{sequence}")


async def test_deliveries_page_keeps_its_rows_when_new_deliveries_arrive(user: User, console: Console):
    await _deliver(console, 8901, range(1, 8))
    await user.open("/deliveries?task_id=8901")
    await wait_for(lambda: len(_sequences(user)) == 7)
    table = user.find(marker="deliveries-table")
    await settled(lambda: table.trigger("request", {"pagination": {"page": 1, "rowsPerPage": 3}}))
    await wait_for(lambda: _sequences(user) == ["7", "6", "5"])
    await settled(lambda: table.trigger("request", {"pagination": {"page": 2, "rowsPerPage": 3}}))
    await wait_for(lambda: _sequences(user) == ["4", "3", "2"])

    await _deliver(console, 8901, range(8, 10))  # two newer ones arrive while page 2 is shown
    await user.should_see("9 deliveries")
    assert _sequences(user) == ["4", "3", "2"]
    await settled(lambda: table.trigger("request", {"pagination": {"page": 3, "rowsPerPage": 3}}))
    await wait_for(lambda: _sequences(user) == ["1"])

    await settled(lambda: table.trigger("request", {"pagination": {"page": 1, "rowsPerPage": 3}}))
    await wait_for(lambda: _sequences(user) == ["9", "8", "7"])


async def test_deliveries_page_jump_to_a_page_not_reached_yet(user: User, console: Console):
    await _deliver(console, 8902, range(1, 8))
    await user.open("/deliveries?task_id=8902")
    await wait_for(lambda: len(_sequences(user)) == 7)
    table = user.find(marker="deliveries-table")

    await settled(lambda: table.trigger("request", {"pagination": {"page": 3, "rowsPerPage": 2}}))

    await wait_for(lambda: _sequences(user) == ["3", "2"])
    assert _table(user).pagination["rowsNumber"] == 7


async def test_a_live_refresh_begun_before_a_jump_does_not_put_the_old_page_back(
    user: User, console: Console, monkeypatch: pytest.MonkeyPatch
):
    await _deliver(console, 8905, range(1, 8))
    await user.open("/deliveries?task_id=8905")
    await wait_for(lambda: len(_sequences(user)) == 7)
    table = user.find(marker="deliveries-table")
    first_page_asked, release = threading.Event(), threading.Event()
    original = deliveries.list_deliveries

    def slow_first_page(**kwargs: Any) -> Any:
        if kwargs["where"].page == 1:  # the live refresh of the page shown: held until the jump was shown
            first_page_asked.set()
            release.wait(10)
        return original(**kwargs)

    monkeypatch.setattr(deliveries, "list_deliveries", slow_first_page)
    try:
        await _deliver(console, 8905, range(8, 9))  # a change to the run: the page refreshes live
        await wait_for(first_page_asked.is_set)
        await settled(lambda: table.trigger("request", {"pagination": {"page": 3, "rowsPerPage": 2}}))
        await wait_for(lambda: _sequences(user) == ["4", "3"])
    finally:
        release.set()
    shown = set()
    for _ in range(50):  # the held refresh ends now: the old page must not come back, even for a moment
        shown.add(tuple(_sequences(user)))
        await asyncio.sleep(0.01)
    assert shown == {("4", "3")}


async def test_deliveries_page_count_past_bound_says_more_than(
    user: User, console: Console, monkeypatch: pytest.MonkeyPatch
):
    monkeypatch.setattr(deliveries, "COUNT_LIMIT", 4)
    await _deliver(console, 8903, range(1, 7))

    await user.open("/deliveries")

    await user.should_see("more than 4 deliveries")
    await wait_for(lambda: len(_sequences(user)) == 6)


async def test_deliveries_page_task_id_of_other_digits_is_not_a_task_id(user: User, console: Console):
    """``str.isdigit`` holds for "²" and "٣", which ``int`` refuses or reads as another number: the page failed to
    open (500) for ``?task_id=²``; typed in the filter, it failed the change."""
    await _deliver(console, 8904, range(1, 3))
    await user.open("/deliveries?task_id=%C2%B2")
    await wait_for(lambda: len(_sequences(user)) == 2)  # not a task_id: no filter, as for any other text
    user.find(marker="deliveries-task-id").type("8904")
    await wait_for(lambda: len(_sequences(user)) == 2)
    user.find(marker="deliveries-task-id").clear().type("²")
    await settled(lambda: None)
    assert len(_sequences(user)) == 2
