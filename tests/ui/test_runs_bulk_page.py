"""The Runs page's selection (cancel or run again together) and a run page's duration view, as a person sees them."""

from __future__ import annotations

from nicegui import ui
from nicegui.testing import User

from tests.builders import CLOCK, Console, make_status, settled, wait_for


def _table(user: User) -> ui.table:
    [table] = user.find(marker="runs-table").elements
    assert isinstance(table, ui.table)
    return table


def _select(user: User, task_ids: set[int]) -> None:
    """What the table's checkboxes send (the header one sends every row of the page)."""
    rows = [row for row in _table(user).rows if int(row["task_id"]) in task_ids]
    user.find(marker="runs-table").trigger(
        "selection", {"added": True, "rows": rows, "keys": [row["task_id"] for row in rows]}
    )


async def test_runs_page_select_all_then_cancel_reports_each_run(user: User, console: Console):
    first, second = await console.start(CLOCK), await console.start(CLOCK)
    await console.pending_round(first)
    await console.pending_round(second)
    await user.open("/runs")
    await wait_for(lambda: {int(row["task_id"]) for row in _table(user).rows} == {first, second})
    await user.should_not_see(marker="bulk-cancel")
    _select(user, {first, second})
    await user.should_see(content="2 runs selected", marker="runs-selected")
    await settled(lambda: user.find(marker="bulk-cancel").click(), within=30)
    await user.should_see(marker="bulk-results")
    for task_id in (first, second):
        await user.should_see(content="cancel sent", marker=f"bulk-result-{task_id}")
    await wait_for(lambda: {row["status"] for row in _table(user).rows} == {"cancelled"})
    assert _table(user).selected == []


async def test_runs_page_run_again_selected_starts_new_runs(user: User, console: Console):
    original = await console.start(CLOCK, {"1": "UTC"})
    await user.open("/runs")
    await wait_for(lambda: _table(user).rows)
    _select(user, {original})
    await user.should_see(content="1 run selected", marker="runs-selected")
    await settled(lambda: user.find(marker="bulk-run-again").click(), within=30)
    await user.should_see(content="started as run", marker=f"bulk-result-{original}")
    await wait_for(lambda: len(_table(user).rows) == 2)  # the new run shows up live


async def test_run_page_shows_durations_of_each_round(user: User, console: Console):
    task_id = await console.start(CLOCK)
    await console.answer(await console.pending_round(task_id), {"get_current_time": "noon"})
    await console.wait_for_status(task_id, "completed")
    await user.open(f"/runs/{task_id}")
    await user.should_see(marker="run-gantt")
    await user.should_see(content="round 1: waiting on the platform", marker="durations-round-1")
    await user.should_see(content="round open until answered", marker="durations-round-1")
    [chart] = user.find(marker="run-gantt").elements
    assert isinstance(chart, ui.echart)
    assert chart.options["yAxis"]["data"][0] == "round 1"


async def test_run_page_durations_say_a_round_was_cancelled_with_the_run(user: User, console: Console):
    """Regression: a round closed by the run's cancelling was labelled "round open until answered"."""
    task_id = await console.start(CLOCK)
    await console.pending_round(task_id)
    assert (await console.post(f"/api/runs/{task_id}/cancel", json={})).status_code == 200
    await console.wait_for_status(task_id, "cancelled")
    await user.open(f"/runs/{task_id}")
    await user.should_see(content="round open until the run was cancelled", marker="durations-round-1")
    await user.should_not_see("round open until answered")


async def test_run_page_durations_of_a_run_without_rounds_say_only_waiting(user: User, console: Console):
    """Regression: a run with no rounds said "after the rounds: waiting on the platform"."""
    await console.deliver(make_status(7506, status="running", sequence=1, round=None), "m_no_rounds")
    await user.open("/runs/7506")
    await user.should_see(content="the run: waiting on the platform", marker="durations-the-run")
    await user.should_not_see("after the rounds")


async def test_run_page_durations_say_a_round_closed_when_the_run_moved_on(user: User, console: Console):
    """Regression: a round the platform moved past unanswered was labelled "round open until answered"."""
    await console.deliver(make_status(7507, sequence=1, round=1), "m_round_1")
    await console.deliver(make_status(7507, sequence=2, round=2), "m_round_2")
    await user.open("/runs/7507")
    await user.should_see(content="round open until closed when the run moved on", marker="durations-round-1")
    await user.should_see(content="round open until answered", marker="durations-round-2")
