"""A run's page: cancel, run again and replay; bad task_ids in the URL; live updates while a dialog is open."""

from __future__ import annotations

import pytest
from nicegui.testing import User

from app.ui.format import duration
from tests.builders import CLOCK, TRIP, Console, make_status, take_errors, wait_for


async def test_open_run_page_with_superscript_digit_says_no_run(
    user: User, console: Console, caplog: pytest.LogCaptureFixture
):
    """Regression: ``_task_id`` checks ``str.isdigit()``, which is true for '²', then ``int('²')`` raises ValueError: the
    sub page fails with a traceback in the log instead of "No run with task_id ²"."""
    await user.open("/runs/%C2%B2")
    await user.should_see("No run with task_id ²")
    assert take_errors(caplog) == []


async def test_run_page_live_update_keeps_replay_dialog_open(user: User, console: Console):
    """Regression: Replay while the original is still running: the dialog is built inside the page body, and every change
    of the run clears and rebuilds that body, so the dialog vanishes while the person fills it in."""
    original = await console.start(TRIP, {"1": "Bergen"})
    await console.answer(
        await console.pending_round(original, 1), {"get_weather": "Rain, 8 °C", "search_flights": "SK 4609"}
    )
    second = await console.pending_round(original, 2)
    await user.open(f"/runs/{original}")
    await user.should_see(marker="replay-run")
    user.find(marker="replay-run").click()
    await user.should_see(marker="replay-start")
    await console.answer(second, {"book_umbrella": "umbrella at arrivals"})  # the original moves on
    await user.should_see("umbrella at arrivals")  # the page has been rebuilt with the change
    await user.should_see(marker="replay-start")


async def test_run_page_cancel_then_run_again(user: User, console: Console):
    task_id = await console.start(CLOCK, {"1": "Asia/Tokyo"})
    await console.wait_for_status(task_id, "awaiting_tool_calls")
    await user.open(f"/runs/{task_id}")
    await user.should_see(marker="expires-in")
    user.find(marker="cancel-run").click()
    await user.should_see("Cancel sent")
    await console.wait_for_status(task_id, "cancelled")
    await user.should_not_see(marker="cancel-run")
    user.find(marker="run-again").click()
    await user.should_see(f"Run {task_id + 1}")
    again = await console.run(task_id + 1)
    assert again["string_inputs"] == {"1": "Asia/Tokyo"}


async def test_run_page_replay_to_round_opens_new_run(user: User, console: Console):
    task_id = await console.start(CLOCK)
    round_ = await console.pending_round(task_id)
    await console.answer(round_, {"get_current_time": "half past"})
    await console.wait_for_status(task_id, "completed")
    await user.open(f"/runs/{task_id}")
    await user.should_see(marker="replay-run")
    user.find(marker="replay-run").click()
    user.find(marker="replay-start").click()
    await user.should_see(marker="replay-of")

    async def replay_completed() -> dict:
        run = (await console.get(f"/api/runs/{task_id + 1}")).json()
        return run if run["status"] == "completed" else {}

    run = await wait_for(replay_completed)
    assert run["result"] == "The current time in UTC is half past."


async def test_open_run_page_id_beyond_int64_shows_not_found(
    user: User, console: Console, caplog: pytest.LogCaptureFixture
):
    """``/runs/99999999999999999999``: ``run.page`` catches NotFound and ValueError, not the OverflowError
    raised binding the id into SQLite, so the page stays blank and the log gets a traceback."""
    try:
        await user.open("/runs/99999999999999999999")
        await user.should_see("No run with task_id 99999999999999999999")
        assert not [r for r in caplog.get_records("call") if r.levelname == "ERROR"]
    finally:
        caplog.clear()  # the user fixture would otherwise fail in teardown and break the tests after this one


async def test_run_page_took_counts_up_to_the_end_not_late_deliveries(user: User, console: Console):
    await console.deliver(make_status(9501, status="running", sequence=1, round=None), "t1")
    await console.deliver(make_status(9501, status="completed", sequence=3, result="done"), "t3")
    await console.deliver(make_status(9501, status="awaiting_tool_calls", sequence=2), "t2")  # late: history
    run = await console.run(9501)
    took = f"took {duration(run['ended_at'] - run['events'][0]['at'])}"
    await user.open("/runs/9501")
    await user.should_see(took, marker="run-took")


async def test_run_page_raw_dialog_draws_the_start_of_a_big_body_with_a_note(user: User, console: Console):
    """A body near the webhook's 1 MB limit: the *raw* dialog draws its first characters and says where the rest
    is, instead of highlighting the whole megabyte on the event loop."""
    note = "x" * 200_000
    await console.deliver(
        make_status(7811, tool_calls=[{"id": "c1", "name": "get_current_time", "arguments": {"note": note}}]),
        "msg_big_raw",
    )
    [delivery] = (await console.get("/api/deliveries", params={"task_id": 7811})).json()["deliveries"]
    await user.open("/runs/7811")
    await user.should_see(marker=f"raw-{delivery['id']}")
    user.find(marker=f"raw-{delivery['id']}").click()
    await user.should_see(marker="raw-body-cut")
    [shown] = user.find(marker="raw-body").elements
    assert len(shown.content) < 30_000  # the start only (ui.code's content wraps it in a Markdown fence)
    await user.should_see(f"GET /api/deliveries/{delivery['id']} have them all")


async def test_run_page_raw_dialog_is_not_opened_once_the_session_has_ended(user: User, console: Console):
    """Signed out elsewhere, a run's tab still open shows no delivery's raw body: it goes to sign-in."""
    from app.runtime import get_runtime
    from app.services import sign_in
    from app.ui import access

    await console.deliver(make_status(7821), "msg_ended_raw")
    [delivery] = (await console.get("/api/deliveries", params={"task_id": 7821})).json()["deliveries"]
    await user.open("/runs/7821")
    await user.should_see(marker=f"raw-{delivery['id']}")
    with user:
        current = access.current()
    assert current is not None
    sign_in.end_session(engine=get_runtime().engine, id_hash=current.session_hash)
    user.find(marker=f"raw-{delivery['id']}").click()
    await user.should_see(marker="signin")
    await user.should_not_see(marker="raw-body")


async def test_run_page_refresh_reading_when_the_person_leaves_draws_nothing(
    user: User, console: Console, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
):
    """Regression: a change's refresh still reading the run when the person opens another page drew the run into
    the page just taken off screen (NiceGUI: "An element has been deleted but is still being used"), timers and
    all. It now sees its page is gone and draws nothing."""
    import asyncio
    import logging
    import threading

    from app.changes import changes
    from app.services import runs

    await console.deliver(make_status(7822), "msg_leave_while_reading")
    await user.open("/runs/7822")
    await user.should_see("get_current_time")
    entered, release, drawn = threading.Event(), threading.Event(), threading.Event()
    real = runs.get_run

    def held(**kwargs: object) -> object:
        entered.set()
        release.wait(10)
        found = real(**kwargs)  # type: ignore[arg-type]
        drawn.set()
        return found

    monkeypatch.setattr(runs, "get_run", held)
    changes.emit(7822)
    await wait_for(entered.is_set)
    user.find("Cassettes").click()
    await user.should_see("A cassette keeps every tool call")
    release.set()
    await wait_for(drawn.is_set)
    await asyncio.sleep(0.2)  # the refresh's own continuation, after its thread
    assert [
        r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING and "deleted" in r.getMessage()
    ] == []
    await user.should_not_see("get_current_time")
