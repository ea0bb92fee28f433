"""After the platform refuses a submission with 404, 409 or 410, run and card stay consistent (issue 8): the round
shows the platform's words, the console asks the platform once about the run and applies what it says, and the
card leaves every inbox with the reason.

To make the platform refuse, its webhook deliveries are kept from the console (the simulator signs with another
secret, so the console refuses them), as when deliveries are lost: the console still thinks the round is open.
"""

from __future__ import annotations

import base64
from typing import Any

import pytest
from nicegui.testing import User

from app.config import get_settings
from app.protocol import ToolResponses, ToolResult
from app.runtime import Runtime
from tests.builders import CLOCK, TRIP, Console, make_status, wait_for

OTHER_SECRET = "whsec_" + base64.b64encode(b"o" * 24).decode()


async def _submit(console: Console, round_: dict[str, Any]) -> dict[str, Any]:
    results = [{"tool_call_id": c["tool_call_id"], "output": "noon"} for c in round_["tool_calls"]]
    response = await console.post(f"/api/rounds/{round_['id']}/responses", json={"results": results})
    return {"status": response.status_code, **response.json()}


def _checked(run: dict[str, Any]) -> list[str]:
    return [event["summary"] for event in run["events"] if event["kind"] == "checked"]


async def test_refused_404_run_unknown_to_platform_becomes_lost(console: Console):
    await console.deliver(make_status(7501), "msg_unknown")
    [round_] = await console.pending()
    answer = await _submit(console, round_)
    assert (answer["status"], answer["error"]["code"]) == (404, "not_found")
    run = await console.run(7501)
    assert run["status"] == "lost" and run["ended_at"] is not None
    assert run["rounds"][0]["state"] == "closed" and "platform answered 404 not_found" in run["rounds"][0]["message"]
    assert _checked(run) == [
        "after its 404 not_found, asked the platform about the run once: it no longer knows it (404 not_found)"
    ]
    assert await console.pending() == []


async def test_refused_409_run_moved_on_status_applied(console: Console, runtime: Runtime):
    assert runtime.simulator is not None
    task_id = await console.start(CLOCK)
    round_ = await console.pending_round(task_id)
    runtime.simulator.use_secret(OTHER_SECRET)  # the cancellation's delivery never reaches the console
    await runtime.simulator.cancel(CLOCK, task_id)
    answer = await _submit(console, round_)
    assert (answer["status"], answer["error"]["code"]) == (409, "not_awaiting")
    run = await console.run(task_id)
    assert run["status"] == "cancelled"
    assert run["rounds"][0]["state"] == "closed" and "409 not_awaiting" in run["rounds"][0]["message"]
    [checked] = _checked(run)
    assert checked.startswith("after its 409 not_awaiting, asked the platform about the run once: cancelled")
    assert checked.endswith(", applied")
    assert runtime.simulator.received == []


@pytest.fixture
def short_rounds(monkeypatch: pytest.MonkeyPatch) -> None:
    """The simulator's rounds expire after 1 s (set before the console starts)."""
    monkeypatch.setenv("TOOLDESK_ROUND_TTL", "1")
    get_settings.cache_clear()


async def test_refused_410_round_expired_run_expired(short_rounds: None, console: Console, runtime: Runtime):
    simulator = runtime.simulator
    assert simulator is not None
    task_id = await console.start(CLOCK)
    round_ = await console.pending_round(task_id)
    simulator.use_secret(OTHER_SECRET)  # the expiry's delivery never reaches the console
    await wait_for(lambda: simulator.get_status(CLOCK, task_id).status == "expired")
    answer = await _submit(console, round_)
    assert (answer["status"], answer["error"]["code"]) == (410, "expired")
    run = await console.run(task_id)
    assert run["status"] == "expired" and run["error"]["code"] == "expired"
    assert run["rounds"][0]["state"] == "expired" and "410 expired" in run["rounds"][0]["message"]
    assert _checked(run)[0].endswith(", applied")


async def test_refused_422_not_checked_round_back_to_person(console: Console, runtime: Runtime):
    """A 422 is the console's to fix (the round goes back to a person), not news about the run: nothing asked."""
    task_id = await console.start(CLOCK)
    round_ = await console.pending_round(task_id)
    assert runtime.simulator is not None
    runtime.simulator.unavailable_tool_responses = 0
    response = await console.post(
        f"/api/rounds/{round_['id']}/responses", json={"results": [{"tool_call_id": "call_nope", "output": "x"}]}
    )
    assert response.status_code == 422
    assert _checked(await console.run(task_id)) == []


async def test_refused_round_card_leaves_inbox_with_reason(user: User, console: Console):
    """The round is answered elsewhere (a script, a handler, another tab) and refused: the card on screen goes with
    the platform's words, not silently."""
    await user.open("/")
    await console.deliver(make_status(7502), "msg_tab_refused")
    await user.should_see("run 7502 · round 1", retries=20)
    [round_] = await console.pending()
    assert (await _submit(console, round_))["status"] == 404
    await user.should_see("Run 7502 round 1 left the inbox (closed): platform answered 404 not_found", retries=30)
    await user.should_not_see("run 7502 · round 1")


async def test_refused_round_run_page_shows_platform_words(user: User, console: Console):
    await console.deliver(make_status(7503), "msg_run_page_refused")
    [round_] = await console.pending()
    assert (await _submit(console, round_))["status"] == 404
    await user.open("/runs/7503")
    await user.should_see("platform answered 404 not_found")
    await user.should_see("it no longer knows it (404 not_found)")
    await user.should_see(marker="run-status")
    await user.should_see("lost")


async def test_cancel_refused_409_run_already_over_status_applied(console: Console, runtime: Runtime):
    """The console missed the run's end: Cancel gets 409 from the platform, which the console then asks once; the
    run shows its real end instead of staying open."""
    assert runtime.simulator is not None
    task_id = await console.start(CLOCK)
    await console.pending_round(task_id)
    runtime.simulator.use_secret(OTHER_SECRET)
    await runtime.simulator.cancel(CLOCK, task_id)  # its delivery never reaches the console
    response = await console.post(f"/api/runs/{task_id}/cancel", json={})
    assert response.status_code == 409, response.text
    run = await console.run(task_id)
    assert run["status"] == "cancelled"
    assert _checked(run)[0].startswith("after its 409 already_terminal, asked the platform about the run once")
    assert await console.pending() == []


async def test_refused_409_next_round_learnt_is_answered_by_its_handler(console: Console, runtime: Runtime):
    """Round 1 was answered elsewhere and the platform moved on to round 2, whose delivery the console missed: the
    console's own submission of round 1 gets 409, asking the platform opens round 2, and its auto handler answers
    it."""
    simulator = runtime.simulator
    assert simulator is not None
    await console.save_handler(
        agent_id=TRIP, tool_name="book_hotel", kind="static", mode="auto", spec={"output": "Hotel Avenida"}
    )
    task_id = await console.start(TRIP, {"1": "Lisbon", "2": "2026-12-24"})
    round_ = await console.pending_round(task_id)
    simulator.use_secret(OTHER_SECRET)  # from now on the console hears nothing from the platform by webhook
    answers = [ToolResult(tool_call_id=c["tool_call_id"], output="dry") for c in round_["tool_calls"]]
    await simulator.send_tool_responses(TRIP, task_id, ToolResponses(round=1, results=answers), None)
    await wait_for(lambda: simulator.get_status(TRIP, task_id).round == 2)
    assert (await _submit(console, round_))["status"] == 409

    async def hotel_sent() -> bool:
        return any(r.output == "Hotel Avenida" for _, body in simulator.received for r in body.results)

    await wait_for(hotel_sent)

    async def round_2_submitted() -> bool:
        rounds = (await console.run(task_id))["rounds"]
        return [(r["round"], r["state"]) for r in rounds] == [(1, "closed"), (2, "submitted")]

    await wait_for(round_2_submitted)


async def test_refused_after_retries_card_leaves_inbox_with_reason(user: User, console: Console, runtime: Runtime):
    """Regression: a round answered elsewhere stays *submitting* while the outbox retries a 503; its card left the
    inbox then, and the later refusal (404) closed the round without a word on the page."""
    assert runtime.simulator is not None
    runtime.simulator.unavailable_tool_responses = 1
    await user.open("/")
    await console.deliver(make_status(7504), "msg_tab_refused_later")
    await user.should_see("run 7504 · round 1")
    [round_] = await console.pending()
    assert (await _submit(console, round_))["status"] == 202  # the 503: stored, the outbox retries
    await user.should_see("Run 7504 round 1 left the inbox (closed): platform answered 404 not_found", retries=50)
    await user.should_not_see("run 7504 · round 1")
