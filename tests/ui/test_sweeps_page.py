"""The Sweeps page: set up a sweep over the Trip planner, watch its table fill in until it is finished, download it;
a viewer sees the sweeps without the form; a bad id says so."""

from __future__ import annotations

import csv
import io

from nicegui import ui
from nicegui.testing import User

from app.states import Role, SweepCellKind
from tests.builders import TRIP, Console, set_value, sign_in_user, wait_for


def _rows(user: User, marker: str) -> list[dict]:
    table = user.find(marker=marker).elements.pop()
    assert isinstance(table, ui.table)
    return table.rows


async def _save_static_handlers(console: Console) -> None:
    for tool in ("get_weather", "search_flights", "book_hotel", "book_umbrella"):
        spec = {"output": f"{tool} ok"}
        await console.save_handler(agent_id=TRIP, tool_name=tool, kind="static", mode="auto", spec=spec)


async def test_start_sweep_from_page_shows_table_until_finished(user: User, console: Console):
    await _save_static_handlers(console)
    await user.open("/sweeps")
    await user.should_see(marker="start-sweep")
    set_value(user, "sweep-agent", TRIP)
    set_value(user, "sweep-tool", "get_weather")
    for kind in SweepCellKind:
        set_value(user, f"cell-{kind}", kind in {SweepCellKind.EMPTY, SweepCellKind.NO_ANSWER})
    set_value(user, "sweep-runs", 2)
    set_value(user, "sweep-ttl", 3)

    user.find(marker="start-sweep").click()

    await user.should_see("Trip planner · tool get_weather · 2 cells × 2 runs")
    await user.should_see("finished", marker="sweep-state")
    rows = {row["label"]: row for row in _rows(user, "sweep-cells")}
    assert (rows["empty"]["runs"], rows["empty"]["completed"], rows["empty"]["expired"]) == (2, 2, 0)
    assert (rows["no_answer"]["completed"], rows["no_answer"]["expired"]) == (0, 2)
    assert rows["no_answer"]["errors"].startswith("expired ×2: round 1 was not answered")
    assert sorted(row["outcome"] for row in _rows(user, "sweep-runs")) == ["completed"] * 2 + ["expired"] * 2

    user.find("Download CSV").click()
    exported = list(csv.DictReader(io.StringIO((await user.download.next(timeout=5)).content.decode())))
    assert [(r["label"], r["completed"], r["expired"]) for r in exported] == [
        ("empty", "2", "0"),
        ("no_answer", "0", "2"),
    ]


async def test_sweep_without_cells_says_which_field(user: User, console: Console):
    await user.open("/sweeps")
    await user.should_see(marker="start-sweep")
    for kind in SweepCellKind:
        set_value(user, f"cell-{kind}", False)

    user.find(marker="start-sweep").click()

    await user.should_see("Sweep not started: cells: List should have at least 1 item")
    assert (await console.get("/api/sweeps")).json() == []


async def test_viewer_sees_sweeps_without_the_form(user: User, console: Console):
    await _save_static_handlers(console)
    body = {"agent_id": TRIP, "tool": "get_weather", "cells": [{"kind": "empty"}], "runs_per_cell": 1}
    sweep_id = (await console.post("/api/sweeps", json=body)).json()["id"]
    sign_in_user(user, role=Role.VIEWER, name="vera")

    await user.open("/sweeps")

    rows = await wait_for(lambda: _rows(user, "sweeps-table"))
    assert (rows[0]["id"], rows[0]["agent"], rows[0]["tool"]) == (sweep_id, "Trip planner", "get_weather")
    await user.should_not_see(marker="start-sweep")


async def test_unknown_sweep_page_says_so(user: User):
    await user.open("/sweeps/4242")
    await user.should_see("No sweep 4242.")
    await user.open("/sweeps/abc")
    await user.should_see("No sweep abc.")
