"""The inbox in NiceGUI's simulated browser: rounds appear live, submit rules hold."""

from __future__ import annotations

import asyncio

import pytest
from nicegui.testing import User

from app.runtime import Runtime
from tests.builders import (
    CLOCK,
    DEEP_JSON,
    FLAKY,
    Console,
    foreground,
    make_status,
    set_value,
    start_done,
    statements,
    wait_for,
)


async def test_round_appears_live_without_reload(user: User, console: Console):
    await user.open("/")
    await user.should_see(marker="inbox-empty")
    await console.deliver(make_status(7101), "msg_live")
    await user.should_see("run 7101 · round 1")
    await user.should_see(marker="result-call_1")


async def test_submit_with_empty_result_refused_naming_call(user: User, console: Console, runtime: Runtime):
    calls = [
        {"id": "call_a", "name": "get_current_time", "arguments": {"timezone": "UTC"}},
        {"id": "call_b", "name": "get_weather", "arguments": {"city": "Porto"}},
    ]
    await console.deliver(make_status(7006, tool_calls=calls), "msg_c06")
    await user.open("/")
    await user.should_see("run 7006 · round 1")
    user.find(marker="result-call_a").type("12:00")
    rounds = await console.pending()
    user.find(marker=f"submit-{rounds[0]['id']}").click()
    await user.should_see("call_b (get_weather) has no result")
    assert (await console.pending())[0]["state"] == "pending"


async def test_answer_clock_round_in_inbox_completes_run(user: User, console: Console, runtime: Runtime):
    await user.open("/")
    task_id = await console.start(CLOCK, {"1": "Europe/Lisbon"})
    await user.should_see(f"run {task_id} · round 1")
    [round_] = await console.pending()
    call_id = round_["tool_calls"][0]["tool_call_id"]
    user.find(marker=f"result-{call_id}").type("2026-11-29T18:00:00+00:00")
    user.find(marker=f"submit-{round_['id']}").click()
    await user.should_see(f"Round 1 of run {task_id} sent", retries=50)  # the platform answers first
    await user.should_not_see(f"run {task_id} · round 1")
    assert runtime.simulator is not None
    assert [body.results[0].output for _, body in runtime.simulator.received] == ["2026-11-29T18:00:00+00:00"]

    async def completed() -> bool:
        return (await console.get(f"/api/runs/{task_id}")).json()["status"] == "completed"

    await wait_for(completed)
    await user.open(f"/runs/{task_id}")
    await user.should_see("The current time in Europe/Lisbon is 2026-11-29T18:00:00+00:00.")
    await user.should_see("answered by person: admin-user")  # the signed-in user


async def test_second_tab_sees_round_leave_when_first_answers(create_user, console: Console):
    first, second = create_user(), create_user()
    await first.open("/")
    await second.open("/")
    await console.deliver(make_status(7201), "msg_two_tabs")
    await first.should_see("run 7201 · round 1")
    await second.should_see("run 7201 · round 1")
    [round_] = await console.pending()
    first.find(marker="result-call_1").type("noon")
    first.find(marker=f"submit-{round_['id']}").click()

    async def left_pending() -> bool:
        return not await console.pending()

    await wait_for(left_pending)  # the platform's answer (here a 404) may take a moment under load
    await second.should_not_see("run 7201 · round 1", retries=20)


async def test_platform_refusal_shown_in_words(user: User, console: Console, runtime: Runtime):
    await console.deliver(make_status(7301), "msg_unknown_task")
    await user.open("/")
    await user.should_see(marker="result-call_1")
    [round_] = await console.pending()
    user.find(marker="result-call_1").type("noon")
    user.find(marker=f"submit-{round_['id']}").click()
    await user.should_see("Not accepted: platform answered 404 not_found")
    run = (await console.get("/api/runs/7301")).json()
    assert run["rounds"][0]["state"] == "closed"
    assert "404 not_found" in run["rounds"][0]["message"]


async def test_json_mode_refuses_invalid_json(user: User, console: Console, runtime: Runtime):
    await console.deliver(make_status(7401), "msg_json_mode")
    await user.open("/")
    await user.should_see(marker="result-call_1")
    [round_] = await console.pending()
    user.find(marker="mode-call_1").elements.pop().set_value("JSON")
    user.find(marker="result-call_1").type("{oops")
    user.find(marker=f"submit-{round_['id']}").click()
    await user.should_see("call_1: result is not JSON")
    assert runtime.simulator is not None and runtime.simulator.received == []


async def test_is_error_switch_sends_error_result(user: User, console: Console, runtime: Runtime):
    await user.open("/")
    task_id = await console.start(FLAKY)
    await user.should_see(f"run {task_id} · round 1")
    [round_] = await console.pending()
    call_id = round_["tool_calls"][0]["tool_call_id"]
    user.find(marker=f"result-{call_id}").type("quote service down")
    user.find(marker=f"is-error-{call_id}").click()
    user.find(marker=f"submit-{round_['id']}").click()
    await user.should_see(f"Round 1 of run {task_id} sent", retries=50)  # the platform answers first
    assert runtime.simulator is not None
    [(_, sent)] = runtime.simulator.received
    assert (sent.results[0].output, sent.results[0].is_error) == ("quote service down", True)
    run = await console.wait_for_status(task_id, "failed")
    assert "quote service down" in run["error"]["message"]


async def test_submit_json_mode_nan_refused_as_not_json(user: User, console: Console):
    """JSON mode "checks that the field parses": Python's json.loads accepts ``NaN`` / ``Infinity`` (not JSON),
    and the console then sends the output ``NaN`` as if it were JSON."""
    await console.deliver(make_status(7501), "msg_nan")
    [round_] = await console.pending()
    await user.open("/")
    await user.should_see(marker="result-call_1")
    user.find(marker="result-call_1").type("NaN")
    user.find(marker="mode-call_1").elements.pop().value = "JSON"
    user.find(marker=f"submit-{round_['id']}").click()
    await user.should_see("result is not JSON")


async def test_submit_inbox_deeply_nested_json_result_shows_problem(
    user: User, console: Console, caplog: pytest.LogCaptureFixture
):
    """Regression: a result in JSON mode nested deeper than Python's recursion limit (``[[[...]]]``, 1,000 levels)
    raises RecursionError out of Submit's click handler (``CallField.problem`` catches JSONDecodeError and
    ValueError, not RecursionError): a traceback in the log and no message on screen."""
    try:
        await console.deliver(make_status(7301), "msg_deep")
        await user.open("/")
        await user.should_see("run 7301 · round 1")
        set_value(user, "mode-call_1", "JSON")
        set_value(user, "result-call_1", DEEP_JSON)
        [round_] = await console.pending()
        user.find(marker=f"submit-{round_['id']}").click()
        await user.should_see("result is not JSON")
    finally:
        errors = [r.getMessage() for r in caplog.get_records("call") if r.levelname == "ERROR"]
        caplog.clear()  # keep NiceGUI's fixture teardown clean so the next UI test can start
    assert errors == []


async def test_inbox_live_update_with_many_pending_rounds_reads_few_statements(
    user: User, console: Console, runtime: Runtime
):
    """Every open Inbox reads the pending rounds on every change: that must not cost queries per round."""
    for n in range(45):  # fewer than a page of cards (PAGE_SIZE), so the new round's card is drawn
        await console.deliver(make_status(7700 + n), f"m_pending_{n}")
    await user.open("/")
    await user.should_see("run 7744 · round 1", retries=20)  # cards are drawn a batch at a time
    await start_done()  # the start-up's handlers' sweep reads each pending round once: not the Inbox's work
    await runtime.responder.idle()
    with statements(runtime.engine) as seen:
        await console.deliver(make_status(7800), "m_one_more")
        await user.should_see("run 7800 · round 1")
        await asyncio.sleep(0.3)
    assert user.find(marker="inbox-count").elements.pop().text == "46"
    sqls = foreground(seen)
    assert 0 < len(sqls) < 40, f"{len(sqls)} statements for one delivery with one Inbox open: {sqls}"


async def test_inbox_cards_leaving_together_are_read_together(user: User, console: Console, runtime: Runtime):
    """When the runs of many cards move on at once, the Inbox asks why they left in one read, not one a card
    (issue 10: no per-change UI work scales with the number of pending rounds)."""
    for n in range(45):
        await console.deliver(make_status(7900 + n), f"m_leaving_{n}")
    await user.open("/")
    await user.should_see("run 7944 · round 1", retries=20)
    await start_done()
    await runtime.responder.idle()
    moved_on = [make_status(7900 + n, status="running", sequence=4) for n in range(45)]
    with statements(runtime.engine) as seen:
        await asyncio.gather(*(console.deliver(body, f"m_moved_on_{n}") for n, body in enumerate(moved_on)))
        await user.should_not_see("run 7944 · round 1", retries=30)
        await user.should_not_see("run 7900 · round 1")
        await asyncio.sleep(0.3)
    by_page = [s.sql for s in seen if s.thread.startswith("tooldesk-ui")]  # the pages' pool, not the writer
    single = [s for s in by_page if "WHERE round.id = ?" in s]
    assert not single, f"{len(single)} reads of one round each for 45 cards that left"
    assert 0 < len(by_page) < 45, f"{len(by_page)} statements on the pages' pool for 45 cards that left"
