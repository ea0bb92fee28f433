"""Reads shared by the open tabs (``app.ui.shared_reads``): tabs on one view read once per flush of changes, tabs on
other views see their own, and a value that depends on the clock is read again once stale."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import pytest
from nicegui import ui
from nicegui.testing import User

from app.changes import changes
from app.runtime import Runtime
from app.services import overview, runs
from app.ui import shared_reads
from app.ui.shared_reads import PerFlush, PerFlushBy
from tests.builders import Console, make_status, wait_for


async def test_runs_tabs_on_one_view_read_once_per_change_and_all_show_it(
    create_user: Callable[[], User], console: Console, monkeypatch: pytest.MonkeyPatch
):
    await console.deliver(make_status(8401, status="completed", sequence=4, result="ok"), "m1")
    tabs = [create_user() for _ in range(4)]
    for tab in tabs:
        await tab.open("/runs")
        await tab.should_see("1 run(s)")
    reads = _counting(monkeypatch, runs, "list_runs")
    flushed = changes.generation

    await console.deliver(make_status(8402, status="failed", sequence=4), "m2")

    for tab in tabs:
        await wait_for(lambda tab=tab: _rows(tab) == {8401: "completed", 8402: "failed"})
        await tab.should_see("2 run(s)")
    flushes = changes.generation - flushed
    assert 1 <= len(reads) <= flushes, f"{len(reads)} reads of the page for {flushes} flushes and {len(tabs)} tabs"


async def test_runs_tabs_on_other_filters_each_show_their_own_rows_and_count(
    create_user: Callable[[], User], console: Console
):
    await console.deliver(make_status(8411, status="completed", sequence=4, result="ok"), "m1")
    every, failed = create_user(), create_user()
    await every.open("/runs")
    await every.should_see("1 run(s)")
    await failed.open("/runs?status=failed")
    await failed.should_see("0 run(s)")

    await console.deliver(make_status(8412, status="failed", sequence=4), "m2")

    await wait_for(lambda: _rows(failed) == {8412: "failed"})
    await failed.should_see("1 run(s)")
    await wait_for(lambda: _rows(every) == {8411: "completed", 8412: "failed"})
    await every.should_see("2 run(s)")


async def test_a_search_whose_count_is_too_slow_still_shows_its_new_rows_live(
    user: User, console: Console, monkeypatch: pytest.MonkeyPatch
):
    await console.deliver(make_status(8431), "m1")
    await user.open("/runs?q=get_current_time")
    await user.should_see("1 run(s)")
    counted = runs.count_runs

    def too_slow(*, engine: Any, where: runs.RunFilter) -> int:
        """A search's count past its deadline while its page is not (a broad search over 100,000 runs)."""
        if where.q:
            raise runs._too_slow(where.q)
        return counted(engine=engine, where=where)

    monkeypatch.setattr(runs, "count_runs", too_slow)

    await console.deliver(make_status(8432), "m2")

    await wait_for(lambda: set(_rows(user)) == {8431, 8432})  # the rows never wait on the count
    await user.should_see("took longer than")


async def test_overview_tabs_read_once_per_change_and_all_show_it(
    create_user: Callable[[], User], console: Console, monkeypatch: pytest.MonkeyPatch
):
    tabs = [create_user() for _ in range(3)]
    for tab in tabs:
        await tab.open("/overview")
        await wait_for(lambda tab=tab: _card(tab, "runs-total") == "0")
    reads = _counting(monkeypatch, overview, "overview")
    flushed = changes.generation

    await console.deliver(make_status(8421), "m1")

    for tab in tabs:
        await wait_for(lambda tab=tab: _card(tab, "runs-total") == "1")
        assert _card(tab, "runs-awaiting-person") == "1"
    await asyncio.sleep(0.1)
    flushes = changes.generation - flushed
    assert 1 <= len(reads) <= flushes, f"{len(reads)} overview reads for {flushes} flushes and {len(tabs)} tabs"


async def test_a_clock_dependent_value_is_read_again_once_stale_or_changed(runtime: Runtime):
    reads: list[int] = []

    def read(_engine: Any, _previous: int | None, _since: frozenset[int] | None) -> int:
        reads.append(len(reads) + 1)
        return len(reads)

    shared = PerFlush(read, fresh_for=0.2)
    assert await shared.get() == 1
    assert await shared.get() == 1  # no change and still fresh: the same read
    await asyncio.sleep(0.25)
    assert await shared.get() == 2  # stale: the last hour's figures would be old
    flushed = changes.generation
    changes.emit(0)
    await wait_for(lambda: changes.generation > flushed)
    assert await shared.get() == 3  # changed


async def test_views_share_a_read_by_key_and_only_the_last_views_are_kept(
    runtime: Runtime, monkeypatch: pytest.MonkeyPatch
):
    monkeypatch.setattr(shared_reads, "KEPT_VIEWS", 2)
    reads: list[str] = []

    def reader(key: str) -> Callable[[Any], str]:
        def read(_engine: Any) -> str:
            reads.append(key)
            return f"value of {key}"

        return read

    shared: PerFlushBy[str] = PerFlushBy()
    together = await asyncio.gather(*(shared.get("a", reader("a")) for _ in range(5)))
    assert together == ["value of a"] * 5
    assert await shared.get("b", reader("b")) == "value of b"
    assert reads == ["a", "b"]  # five tabs on view a asked at once: one read
    await shared.get("c", reader("c"))  # a third view: a, the least recently asked for, is dropped
    await shared.get("b", reader("b"))
    await shared.get("a", reader("a"))
    assert reads == ["a", "b", "c", "a"]


def _counting(monkeypatch: pytest.MonkeyPatch, module: Any, name: str) -> list[dict[str, Any]]:
    """Calls of ``module.name`` from now on, by their keyword arguments."""
    calls: list[dict[str, Any]] = []
    real = getattr(module, name)

    def counted(**kwargs: Any) -> Any:
        calls.append(kwargs)
        return real(**kwargs)

    monkeypatch.setattr(module, name, counted)
    return calls


def _rows(user: User) -> dict[int, str]:
    [table] = user.find(marker="runs-table").elements
    assert isinstance(table, ui.table)
    return {int(row["task_id"]): row["status"] for row in table.rows}


def _card(user: User, name: str) -> str:
    [label] = user.find(marker=f"overview-{name}").elements
    assert isinstance(label, ui.label)
    return label.text
