"""The runs page shows its rows without waiting on their count, which fills in afterwards."""

from __future__ import annotations

import threading
from typing import Any

import pytest
from nicegui import ui
from nicegui.testing import User

from app.services import runs
from tests.builders import Console, make_status, wait_for


async def test_open_runs_shows_rows_before_total(user: User, console: Console, monkeypatch: pytest.MonkeyPatch):
    """The count is held back until the rows are on screen; then the total appears."""
    for task_id in (8501, 8502):
        await console.deliver(make_status(task_id, status="completed", sequence=4, result="ok"), f"m{task_id}")
    release = threading.Event()
    real = runs.count_runs

    def held_count(**kwargs: Any) -> int:
        release.wait(timeout=30)
        return real(**kwargs)

    monkeypatch.setattr(runs, "count_runs", held_count)
    try:
        await user.open("/runs")
        await wait_for(lambda: _task_ids(user) == [8502, 8501])
        await user.should_see("counting runs…")
        await user.should_not_see("2 run(s)")
    finally:
        release.set()
    await user.should_see("2 run(s)")
    await wait_for(lambda: _table(user).pagination.get("rowsNumber") == 2)


async def test_search_runs_page_shows_matches_then_their_total(user: User, console: Console):
    await console.deliver(make_status(8511, status="completed", sequence=4, result="Café in Zürich"), "m1")
    await console.deliver(make_status(8512, status="completed", sequence=4, result="Bar in Oslo"), "m2")
    await user.open("/runs?q=ZÜRICH")
    await user.should_see("1 run(s)")
    assert _task_ids(user) == [8511]


def _table(user: User) -> ui.table:
    [table] = user.find(marker="runs-table").elements
    assert isinstance(table, ui.table)
    return table


def _task_ids(user: User) -> list[int]:
    return [int(row["task_id"]) for row in _table(user).rows]
