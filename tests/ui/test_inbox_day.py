"""The inbox for a QA person's day: the run's inputs and earlier rounds on a card, Skip, Cancel run, filters and
order kept in the URL, and the JSON check while typing."""

from __future__ import annotations

import re
from typing import Any

import pytest
from nicegui.testing import User

from app.changes import changes
from app.runtime import Runtime, get_runtime
from app.services import agents
from app.states import Role
from app.ui.pages import inbox as inbox_page
from tests.builders import (
    CLOCK,
    TRIP,
    Console,
    foreground,
    make_status,
    set_value,
    settled,
    sign_in_user,
    start_done,
    statements,
    wait_for,
)


async def _agents_synced() -> None:
    """The start-up agent sync (the input labels and the filter's agents come from it)."""
    engine = get_runtime().engine
    await wait_for(lambda: agents.list_agents(engine=engine), within=30.0)


async def test_card_shows_run_inputs_and_earlier_rounds_collapsed(user: User, console: Console):
    await _agents_synced()
    task_id = await console.start(TRIP, {"1": "Porto", "2": "2026-12-24"})
    first = await console.pending_round(task_id)
    await console.answer(first, {"get_weather": "light rain, 14 °C", "search_flights": "TP 1351 at 09:10"})
    second = await console.pending_round(task_id, 2)
    await user.open("/")
    await user.should_see(f"run {task_id} · round 2", retries=20)
    await user.should_see("Inputs: City = Porto, Date = 2026-12-24")
    await user.should_see("Earlier rounds (1)")
    await user.should_not_see("light rain, 14 °C")  # collapsed: drawn only when opened
    set_value(user, f"earlier-{second['id']}", True)
    await user.should_see("Round 1 · submitted · answered by person: api (token tests)")
    weather = next(c for c in first["tool_calls"] if c["name"] == "get_weather")
    await user.should_see(f'{weather["tool_call_id"]} · get_weather({{"city": "Porto"}})')
    await user.should_see("→ light rain, 14 °C")
    await user.should_see("→ TP 1351 at 09:10")


async def test_first_round_card_shows_inputs_without_earlier_rounds(user: User, console: Console):
    await _agents_synced()
    task_id = await console.start(CLOCK, {"1": "Asia/Tokyo"})
    round_ = await console.pending_round(task_id)
    await user.open("/")
    await user.should_see(f"run {task_id} · round 1", retries=20)
    await user.should_see("Inputs: Timezone = Asia/Tokyo")
    await user.should_not_see(marker=f"earlier-{round_['id']}")


async def test_skip_answers_every_call_as_error_with_reason(user: User, console: Console, runtime: Runtime):
    task_id = await console.start(TRIP)
    round_ = await console.pending_round(task_id)
    await user.open("/")
    await user.should_see(f"run {task_id} · round 1", retries=20)
    user.find(marker=f"skip-{round_['id']}").click()
    await user.should_see(marker=f"skip-reason-{round_['id']}")
    user.find(marker=f"skip-reason-{round_['id']}").type("  weather service down on staging  ")
    user.find(marker=f"skip-confirm-{round_['id']}").click()
    await user.should_see(f"Round 1 of run {task_id} skipped: weather service down on staging", retries=50)
    await user.should_not_see(f"run {task_id} · round 1")
    assert runtime.simulator is not None
    assert [
        (task, [(r.tool_call_id, r.output, r.is_error) for r in body.results])
        for task, body in runtime.simulator.received
    ] == [(task_id, [(c["tool_call_id"], "weather service down on staging", True) for c in round_["tool_calls"]])]

    async def answered() -> dict[str, Any]:
        run = await console.run(task_id)
        return run if run["rounds"][0]["results"] else {}

    run = await wait_for(answered)
    assert run["rounds"][0]["answered_by"] == "person: admin-user"  # the signed-in person
    assert {r["answered_by"] for r in run["rounds"][0]["results"]} == {"person: admin-user"}


async def test_skip_without_reason_sends_nothing(user: User, console: Console, runtime: Runtime):
    task_id = await console.start(CLOCK)
    round_ = await console.pending_round(task_id)
    await user.open("/")
    await user.should_see(f"run {task_id} · round 1", retries=20)
    user.find(marker=f"skip-{round_['id']}").click()
    await user.should_see(marker=f"skip-reason-{round_['id']}")
    user.find(marker=f"skip-reason-{round_['id']}").type("   ")
    user.find(marker=f"skip-confirm-{round_['id']}").click()
    await user.should_see("Say why the round is skipped")
    assert runtime.simulator is not None and runtime.simulator.received == []
    assert (await console.pending(task_id))[0]["state"] == "pending"


async def test_cancel_run_from_card_cancels_on_platform_and_card_leaves(user: User, console: Console):
    task_id = await console.start(CLOCK)
    round_ = await console.pending_round(task_id)
    await user.open("/")
    await user.should_see(f"run {task_id} · round 1", retries=20)
    user.find(marker=f"cancel-run-{round_['id']}").click()
    await user.should_see(f"Cancel run {task_id}?")
    user.find(marker=f"cancel-confirm-{round_['id']}").click()
    await user.should_see(f"Run {task_id} cancelled", retries=50)
    await user.should_not_see(f"run {task_id} · round 1")
    run = await console.wait_for_status(task_id, "cancelled")
    assert run["rounds"][0]["state"] == "closed"
    await user.should_not_see(f"run {task_id} · round 1")  # the webhook's refresh does not bring it back


async def test_viewer_sees_no_skip_or_cancel(user: User, console: Console):
    sign_in_user(user, role=Role.VIEWER)
    await console.deliver(make_status(7901), "msg_viewer")
    [round_] = await console.pending()
    await user.open("/")
    await user.should_see("run 7901 · round 1", retries=20)
    await user.should_not_see(marker=f"skip-{round_['id']}")
    await user.should_not_see(marker=f"cancel-run-{round_['id']}")


async def test_filter_by_agent_and_tool_from_url(user: User, console: Console):
    await _agents_synced()
    clock = await console.start(CLOCK)
    trip = await console.start(TRIP)
    await console.pending_round(clock)
    await console.pending_round(trip)
    await user.open(f"/?agent={CLOCK}")
    await user.should_see(f"run {clock} · round 1", retries=20)
    await user.should_not_see(f"run {trip} · round 1")
    await user.should_see("1 matching · 2 waiting in all")
    await user.open("/?tool=search_flights")
    await user.should_see(f"run {trip} · round 1", retries=20)
    await user.should_not_see(f"run {clock} · round 1")


async def test_choosing_filters_keeps_them_in_url(user: User, console: Console, monkeypatch: pytest.MonkeyPatch):
    urls: list[str] = []
    real = inbox_page._query
    monkeypatch.setattr(inbox_page, "_query", lambda view: urls.append(real(view)) or urls[-1])
    await _agents_synced()
    clock = await console.start(CLOCK)
    trip = await console.start(TRIP)
    await console.pending_round(clock)
    await console.pending_round(trip)
    await user.open("/")
    await user.should_see(f"run {trip} · round 1", retries=20)
    set_value(user, "inbox-tool", "get_weather")
    await user.should_not_see(f"run {clock} · round 1")
    await user.should_see(f"run {trip} · round 1", retries=20)
    set_value(user, "inbox-sort", "expiring")
    await wait_for(lambda: urls and urls[-1] == "tool=get_weather&sort=expiring")
    await user.open(f"/?{urls[-1]}")  # a reload, or the link shared
    await user.should_see(f"run {trip} · round 1", retries=20)
    await user.should_not_see(f"run {clock} · round 1")
    assert user.find(marker="inbox-sort").elements.pop().value == "expiring"


async def test_hidden_card_keeps_typed_text_when_filter_is_cleared(user: User, console: Console):
    await console.deliver(make_status(7911), "msg_typed_a")
    await console.deliver(
        make_status(7912, tool_calls=[{"id": "call_w", "name": "get_weather", "arguments": {"city": "Oslo"}}]),
        "msg_typed_b",
    )
    await user.open("/")
    await user.should_see("run 7912 · round 1", retries=20)
    user.find(marker="result-call_1").type("half an answer")
    set_value(user, "inbox-tool", "get_weather")
    await user.should_not_see("run 7911 · round 1")
    set_value(user, "inbox-tool", "")
    await user.should_see("run 7911 · round 1", retries=20)
    assert user.find(marker="result-call_1").elements.pop().value == "half an answer"


async def test_sort_expiring_puts_soonest_first_and_no_deadline_last(user: User, console: Console):
    await console.deliver(make_status(7921, expires_at="2099-01-01T12:00:00Z"), "msg_late")
    await console.deliver(make_status(7922), "msg_none")
    await console.deliver(make_status(7923, expires_at="2099-01-01T10:00:00+00:00"), "msg_soon")
    await user.open("/?sort=expiring")
    await user.should_see("run 7922 · round 1", retries=20)
    assert _order(user) == [7923, 7921, 7922]
    set_value(user, "inbox-sort", "oldest")
    await wait_for(lambda: _order(user) == [7921, 7922, 7923])


async def test_unknown_sort_in_url_is_reset_with_message(user: User, console: Console):
    await user.open("/?sort=random")
    await user.should_see("not understood and were reset")
    await user.should_see(marker="inbox-empty")


async def test_json_mode_marks_field_while_typing(user: User, console: Console, runtime: Runtime):
    await console.deliver(make_status(7931), "msg_json_typing")
    await user.open("/")
    await user.should_see(marker="result-call_1")
    set_value(user, "mode-call_1", "JSON")
    user.find(marker="result-call_1").type('{"temp_c": 19\n "sky": "clear"}')
    field = user.find(marker="result-call_1").elements.pop()
    await wait_for(lambda: field.props.get("error"))  # no Submit: the check runs after a pause in typing
    assert field.props["error-message"] == "not JSON: Expecting ',' delimiter (line 2, column 2)"
    await user.should_see('2 |  "sky": "clear"}')  # the bad line, with a caret under the place
    field.set_value('{"temp_c": 19, "sky": "clear"}')
    await wait_for(lambda: not field.props.get("error"))
    await user.should_not_see(marker="json-spot-call_1")
    assert runtime.simulator is not None and runtime.simulator.received == []


async def test_text_mode_does_not_mark_json_like_text(user: User, console: Console):
    await console.deliver(make_status(7941), "msg_text_mode")
    await user.open("/")
    await user.should_see(marker="result-call_1")
    user.find(marker="result-call_1").type("{not json, and that is fine")
    field = user.find(marker="result-call_1").elements.pop()
    set_value(user, "mode-call_1", "JSON")  # switching mode checks at once
    assert field.props.get("error") and "not JSON" in field.props["error-message"]
    set_value(user, "mode-call_1", "text")
    assert not field.props.get("error")


def _order(user: User) -> list[int]:
    """The task ids of the cards shown, top to bottom."""
    container = user.find(marker="inbox-rounds").elements.pop()
    shown = [
        child for child in container.default_slot.children if child.visible and "inbox-empty" not in child._markers
    ]
    return [_task_of(child) for child in shown]


def _task_of(card: Any) -> int:
    text = next(
        e.text for e in card.descendants() if hasattr(e, "text") and isinstance(e.text, str) and " · run " in e.text
    )
    return int(text.split(" · run ")[1].split(" · ")[0])


async def test_open_inbox_with_many_cards_reads_context_in_few_statements(
    user: User, console: Console, runtime: Runtime
):
    """Each card's inputs and earlier rounds come from one query for all new cards, not a few per card."""
    for n in range(40):
        await console.deliver(make_status(7950 + n, sequence=3, round=2), f"m_ctx_{n}")
    await start_done()  # the start-up's handlers' sweep reads each pending round once: not the page's reads
    await runtime.responder.idle()  # the handlers' look at each new round reads its run: not the page's reads
    await wait_for(lambda: not changes.bursting)  # the burst's last changes flushed: the page is read once
    with statements(runtime.engine) as seen:
        await user.open("/")
        await user.should_see("run 7989 · round 2", retries=20)
    sqls = foreground(seen)
    touching_runs = [s for s in sqls if re.search(r"FROM run\b", s)]  # not run_fts_stale: the search index
    assert len(touching_runs) <= 2, f"{len(touching_runs)} statements read runs for 40 cards"
    assert 0 < len(sqls) < 30, f"{len(sqls)} statements to open an inbox of 40 cards: {sqls}"


async def test_cancel_run_refused_by_platform_says_so_and_run_is_lost(user: User, console: Console):
    """A 404 to *Cancel run* makes the console ask the platform once; a run it does not know becomes ``lost`` and
    its card leaves (README, "After a refusal")."""
    await console.deliver(make_status(7961), "msg_cancel_unknown")  # a run the simulator never started
    [round_] = await console.pending()
    await user.open("/")
    await user.should_see("run 7961 · round 1", retries=20)
    user.find(marker=f"cancel-run-{round_['id']}").click()
    await user.should_see("Cancel run 7961?")
    user.find(marker=f"cancel-confirm-{round_['id']}").click()
    await user.should_see("Not cancelled: platform answered 404 not_found", retries=50)
    await console.wait_for_status(7961, "lost")
    await user.should_not_see("run 7961 · round 1", retries=20)
    assert await console.pending() == []


async def test_format_indents_json_that_parses(user: User, console: Console):
    await console.deliver(make_status(7971), "msg_format")
    await user.open("/")
    await user.should_see(marker="result-call_1")
    set_value(user, "mode-call_1", "JSON")
    user.find(marker="result-call_1").type('{"temp_c":19,"sky":"clear"}')
    user.find(marker="format-call_1").click()
    assert user.find(marker="result-call_1").elements.pop().value == '{\n  "temp_c": 19,\n  "sky": "clear"\n}'


async def test_skip_confirm_clicked_twice_skips_once_without_refusal(user: User, console: Console, runtime: Runtime):
    """Regression: a double click on *Skip round* skipped the round and then said "Not skipped: … nothing was
    sent" for the second click."""
    task_id = await console.start(CLOCK)
    round_ = await console.pending_round(task_id)
    await user.open("/")
    await user.should_see(f"run {task_id} · round 1", retries=20)
    user.find(marker=f"skip-{round_['id']}").click()
    await user.should_see(marker=f"skip-reason-{round_['id']}")
    user.find(marker=f"skip-reason-{round_['id']}").type("clock service down")
    confirm = user.find(marker=f"skip-confirm-{round_['id']}")
    await settled(lambda: (confirm.click(), confirm.click()))
    await user.should_see(f"Round 1 of run {task_id} skipped: clock service down", retries=50)
    await user.should_not_see("Not skipped")
    assert runtime.simulator is not None and len(runtime.simulator.received) == 1


async def test_cancel_confirm_clicked_twice_cancels_once_without_refusal(user: User, console: Console):
    """Regression: a double click on *Cancel run* cancelled the run and then said "Not cancelled: platform answered
    409" for the second click."""
    task_id = await console.start(CLOCK)
    round_ = await console.pending_round(task_id)
    await user.open("/")
    await user.should_see(f"run {task_id} · round 1", retries=20)
    user.find(marker=f"cancel-run-{round_['id']}").click()
    await user.should_see(f"Cancel run {task_id}?")
    confirm = user.find(marker=f"cancel-confirm-{round_['id']}")
    await settled(lambda: (confirm.click(), confirm.click()))
    await user.should_see(f"Run {task_id} cancelled", retries=50)
    await user.should_not_see("Not cancelled")
    await console.wait_for_status(task_id, "cancelled")
