"""Typed drafts, presence and the card that stays (issue 8; cases C14, C15) in NiceGUI's simulated browser."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from nicegui.testing import User

from app.db import make_engine
from app.runtime import Runtime
from app.services import typed_drafts
from app.states import Role
from tests.builders import CLOCK, Console, make_status, set_value, sign_in_user, wait_for


def _value(user: User, marker: str) -> object:
    return user.find(marker=marker).elements.pop().value  # type: ignore[attr-defined]


def _enabled(user: User, marker: str) -> bool:
    return bool(user.find(marker=marker).elements.pop().enabled)  # type: ignore[attr-defined]


def person(make: Callable[[], User], name: str) -> User:
    """A further simulated tab, signed in as the admin ``name``."""
    tab = make()
    sign_in_user(tab, role=Role.ADMIN, name=name)
    return tab


def saved(runtime: Runtime, round_id: int, name: str, output: str) -> bool:
    """True once ``name``'s typed draft of ``call_1`` holds ``output`` on the server."""
    typed = typed_drafts.load(engine=runtime.engine, round_ids=[round_id], person=name)
    return typed.get(round_id, {}).get("call_1", typed_drafts.TypedField("call_1", "")).output == output


async def test_typed_draft_comes_back_after_reopen_navigation_and_restart(
    user: User, create_user: Callable[[], User], console: Console, runtime: Runtime, database_url: str
):
    await console.deliver(make_status(8101), "msg_draft")
    await user.open("/")
    await user.should_see("run 8101 · round 1", retries=100)
    [round_] = await console.pending()
    user.find(marker="result-call_1").type('{"time": "noon"}')
    set_value(user, "mode-call_1", "JSON")
    set_value(user, "is-error-call_1", True)
    await wait_for(lambda: saved(runtime, round_["id"], "admin-user", '{"time": "noon"}'))

    again = create_user()  # the same person (admin-user) in a new tab, as after a reload
    await again.open("/")
    await again.should_see("run 8101 · round 1", retries=100)
    await wait_for(lambda: _value(again, "result-call_1") == '{"time": "noon"}')
    assert (_value(again, "mode-call_1"), _value(again, "is-error-call_1")) == ("JSON", True)

    await user.open("/runs")  # in-app navigation away and back
    await user.open("/")
    await user.should_see("run 8101 · round 1", retries=100)
    await wait_for(lambda: _value(user, "result-call_1") == '{"time": "noon"}')

    restarted = make_engine(database_url)  # a new process would open the database like this
    try:
        typed = typed_drafts.load(engine=restarted, round_ids=[round_["id"]], person="admin-user")
    finally:
        restarted.dispose()
    assert typed[round_["id"]]["call_1"] == typed_drafts.TypedField("call_1", '{"time": "noon"}', True, True)


async def test_typed_draft_is_not_a_handler_draft(user: User, console: Console, runtime: Runtime):
    await console.deliver(make_status(8102), "msg_apart")
    await user.open("/")
    await user.should_see("run 8102 · round 1", retries=100)
    user.find(marker="result-call_1").type("typed, not sent")
    [round_] = await console.pending()
    await wait_for(lambda: saved(runtime, round_["id"], "admin-user", "typed, not sent"))
    [again] = await console.pending()
    assert again["drafts"] == []  # the API's drafts are the handlers' and replays' only


async def test_second_person_sees_who_is_answering_and_takes_over(create_user: Callable[[], User], console: Console):
    alice, bob = person(create_user, "alice"), person(create_user, "bob")
    await alice.open("/")
    await bob.open("/")
    await console.deliver(make_status(8201), "msg_presence")
    await alice.should_see("run 8201 · round 1", retries=100)
    await bob.should_see("run 8201 · round 1", retries=100)
    [round_] = await console.pending()
    alice.find(marker="result-call_1").type("half an answ")

    await bob.should_see("alice is answering · ", retries=100)
    await bob.should_see("(you can still submit yours)")
    assert _enabled(bob, f"submit-{round_['id']}")  # a claim shows, it never blocks
    await alice.should_not_see("is answering")  # nobody else is

    bob.find(marker=f"take-over-{round_['id']}").click()
    await alice.should_see("bob took over · ", retries=100)
    await bob.should_not_see("alice is answering", retries=100)
    await bob.should_see("also typing: alice · ")
    assert _value(alice, "result-call_1") == "half an answ"  # what alice typed is hers to keep


async def test_card_stays_saying_who_answered_when_the_api_answers_first(user: User, console: Console):
    """Case C15: another client submits the round first; the card says who and when, keeps the text."""
    await user.open("/")
    task_id = await console.start(CLOCK)
    await user.should_see(f"run {task_id} · round 1", retries=100)
    round_ = await console.pending_round(task_id)
    call_id = round_["tool_calls"][0]["tool_call_id"]
    user.find(marker=f"result-{call_id}").type("my answer, a bit late")
    await console.answer(round_, {"get_current_time": "12:00"}, answered_by="ci-bot")

    await user.should_see("answered by person: ci-bot (token tests) at ", retries=100)
    assert _value(user, f"result-{call_id}") == "my answer, a bit late"
    assert not _enabled(user, f"submit-{round_['id']}")
    user.find(marker=f"dismiss-{round_['id']}").click()
    await user.should_not_see(f"run {task_id} · round 1")


async def test_card_counts_down_and_turns_submit_off_at_expiry(user: User, console: Console):
    """Case C14: a round whose ``expires_at`` is 6 s ahead and no later delivery."""
    soon = (datetime.now(UTC) + timedelta(seconds=6)).isoformat().replace("+00:00", "Z")
    await console.deliver(make_status(8401, expires_at=soon), "msg_c14")
    await user.open("/")
    await user.should_see("run 8401 · round 1", retries=100)
    [round_] = await console.pending()
    await user.should_see("expires in ", retries=50)
    assert _enabled(user, f"submit-{round_['id']}")
    user.find(marker="result-call_1").type("too late")

    await user.should_see("expired at ", retries=300)
    await user.should_see("The round expired")
    assert not _enabled(user, f"submit-{round_['id']}")
    assert _value(user, "result-call_1") == "too late"


async def test_card_drawn_after_expiry_has_submit_off(user: User, console: Console):
    """Case C14, on a page opened after ``expires_at`` while the round is still stored as pending."""
    past = (datetime.now(UTC) - timedelta(seconds=1)).isoformat().replace("+00:00", "Z")
    await console.deliver(make_status(8402, expires_at=past), "msg_c14_late")
    [round_] = await console.pending()
    await user.open("/")
    await user.should_see("run 8402 · round 1", retries=100)
    await user.should_see("expired at ", retries=50)
    assert not _enabled(user, f"submit-{round_['id']}")


async def test_edits_and_blurs_in_a_loop_from_one_tab_are_saved_a_few_times_not_each(
    user: User, console: Console, runtime: Runtime
):
    await console.deliver(make_status(8190), "msg_flood")
    await user.open("/")
    await user.should_see("run 8190 · round 1", retries=100)
    [round_] = await console.pending()
    field = user.find(marker="result-call_1")
    before = typed_drafts.revision()
    for _ in range(40):  # what a crafted client can send as fast as it likes
        field.type("x")
        field.trigger("blur")
        await asyncio.sleep(0.01)  # let each blur's handler run
    await wait_for(lambda: saved(runtime, round_["id"], "admin-user", "x" * 40))
    assert typed_drafts.revision() - before < 20
