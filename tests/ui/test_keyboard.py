"""Keys: j/k move through the inbox, Ctrl+Enter submits the selected round, ? lists the keys."""

from __future__ import annotations

import pytest
from nicegui import ui
from nicegui.testing import User

from app.runtime import Runtime
from tests.builders import CLOCK, Console, make_status, press_key, settled, wait_for


async def test_keys_select_round_and_submit_with_ctrl_enter(user: User, console: Console, runtime: Runtime):
    for task_id in (8401, 8402):
        await console.deliver(make_status(task_id), f"m{task_id}")
    await user.open("/")
    await user.should_see("run 8402 · round 1")
    press_key(user, "j")  # first card
    press_key(user, "j")  # second card: run 8402
    rounds = {r["task_id"]: r for r in await console.pending()}
    with user.scope(marker=f"round-{rounds[8402]['id']}"):  # both cards have a call_1: fill the second one
        user.find(marker="result-call_1").type("typed for 8402")
    press_key(user, "Enter", ctrl=True, marker="keys-anywhere")
    await user.should_see("Not accepted: platform answered 404")  # 8402 is unknown to the simulator: it was sent
    run = await console.run(8402)
    assert run["rounds"][0]["state"] == "closed" and rounds[8401]["state"] == "pending"


async def test_question_mark_lists_keys(user: User):
    await user.open("/")
    await user.should_see(marker="keys")
    press_key(user, "?")
    await user.should_see("submit the selected round (works while typing)")


async def test_press_ctrl_enter_on_agents_page_does_not_submit_inbox_round(user: User, console: Console):
    """Regression: The Agents page never calls ``live.listen``, so the Inbox's key handler stays installed after leaving the
    Inbox: Ctrl+Enter on the Agents page sends the round selected (and typed into) before, unseen."""
    await console.deliver(make_status(8401), "m1")
    await user.open("/")
    await user.should_see("run 8401 · round 1")
    press_key(user, "j")
    user.find(marker="result-call_1").type("half typed")
    user.find("Agents").click()
    await user.should_not_see(marker="result-call_1")
    await settled(lambda: press_key(user, "Enter", ctrl=True, marker="keys-anywhere"))
    run = (await console.get("/api/runs/8401")).json()
    assert run["rounds"][0]["state"] == "pending"


async def test_press_slash_on_overview_focuses_runs_search(
    user: User, console: Console, monkeypatch: pytest.MonkeyPatch
):
    """Regression: README: "/ searches runs". From another page it opens Runs, but the focus request goes to the old page's
    key handler (the navigation runs in a background task), so the search field is never focused."""
    focused: list[str] = []
    real = ui.input.run_method

    def spy(self: ui.input, name: str, *args: object, **kwargs: object):  # type: ignore[no-untyped-def]
        if name == "focus":
            focused.append(str(self.props.get("label")))
        return real(self, name, *args, **kwargs)

    monkeypatch.setattr(ui.input, "run_method", spy)
    await user.open("/overview")
    await user.should_see("Overview")
    press_key(user, "/")
    await user.should_see(marker="runs-search")
    assert await wait_for(lambda: focused) == ["Search"]


async def test_ctrl_enter_twice_sends_once_without_refusal(user: User, console: Console, runtime: Runtime):
    """Regression: a second Ctrl+Enter while the first submission is on its way claimed the round again and showed
    "Not accepted: ... nothing was sent" (with a Dismiss) for a round that was sent."""
    task_id = await console.start(CLOCK)
    round_ = await console.pending_round(task_id)
    await user.open("/")
    await user.should_see(f"run {task_id} · round 1", retries=20)
    press_key(user, "j")
    user.find(marker=f"result-{round_['tool_calls'][0]['tool_call_id']}").type("12:00")
    await settled(
        lambda: (
            press_key(user, "Enter", ctrl=True, marker="keys-anywhere"),
            press_key(user, "Enter", ctrl=True, marker="keys-anywhere"),
        )
    )
    await console.wait_for_status(task_id, "completed")
    await user.should_see(f"Round 1 of run {task_id} sent")
    await user.should_not_see("Not accepted")
    assert runtime.simulator is not None and len(runtime.simulator.received) == 1
