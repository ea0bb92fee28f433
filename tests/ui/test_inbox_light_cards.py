"""Light inbox cards: below the top three, a card shows its calls as text and builds its result fields when the
person turns to it (README, "Light cards")."""

from __future__ import annotations

import asyncio

from nicegui.testing import User

from app.ui.pages.inbox import OPEN_CARDS
from tests.builders import Console, make_status, press_key

FIRST = 8600


async def _rounds(console: Console, count: int) -> dict[int, int]:
    """``count`` pending rounds, runs ``FIRST`` on, opened in order; round id by task_id."""
    for n in range(count):
        await console.deliver(make_status(FIRST + n), f"m_light_{n}")
    return {r["task_id"]: r["id"] for r in await console.pending()}


async def test_card_below_the_top_shows_its_calls_and_opens_on_answer(user: User, console: Console):
    rounds = await _rounds(console, OPEN_CARDS + 1)
    light = rounds[FIRST + OPEN_CARDS]
    await user.open("/")
    await user.should_see(f"run {FIRST + OPEN_CARDS} · round 1")
    with user.scope(marker=f"round-{rounds[FIRST]}"):
        await user.should_see(marker="result-call_1")  # the top cards are open
    with user.scope(marker=f"round-{light}"):
        await user.should_see('call_1 · get_current_time {"timezone": "UTC"}')
        await user.should_not_see(marker="result-call_1")
        user.find(marker=f"answer-{light}").click()
        await user.should_see(marker="result-call_1")
        user.find(marker="result-call_1").type("noon")
        await user.should_not_see(marker=f"answer-{light}")


async def test_submit_on_a_light_card_opens_it_and_names_the_empty_result(user: User, console: Console):
    rounds = await _rounds(console, OPEN_CARDS + 1)
    light = rounds[FIRST + OPEN_CARDS]
    await user.open("/")
    await user.should_see(f"run {FIRST + OPEN_CARDS} · round 1")
    user.find(marker=f"submit-{light}").click()
    await user.should_see("Not sent: call_1 (get_current_time) has no result")
    with user.scope(marker=f"round-{light}"):
        await user.should_see(marker="result-call_1")
    run = (await console.get(f"/api/runs/{FIRST + OPEN_CARDS}")).json()
    assert run["rounds"][0]["state"] == "pending"


async def test_enter_on_the_selected_light_card_opens_it(user: User, console: Console):
    rounds = await _rounds(console, OPEN_CARDS + 1)
    light = rounds[FIRST + OPEN_CARDS]
    await user.open("/")
    await user.should_see(f"run {FIRST + OPEN_CARDS} · round 1")
    for _ in range(OPEN_CARDS + 1):
        press_key(user, "j")
    press_key(user, "Enter")
    with user.scope(marker=f"round-{light}"):
        await user.should_see(marker="result-call_1")


async def test_light_card_opens_when_the_cards_above_it_leave(user: User, console: Console):
    rounds = await _rounds(console, OPEN_CARDS + 1)
    light = rounds[FIRST + OPEN_CARDS]
    await user.open("/")
    await user.should_see(f"run {FIRST + OPEN_CARDS} · round 1")
    await asyncio.gather(
        *(
            console.deliver(make_status(FIRST + n, status="completed", sequence=4, result="done"), f"m_light_end_{n}")
            for n in range(OPEN_CARDS)
        )
    )
    await user.should_see("1 waiting", retries=50)
    with user.scope(marker=f"round-{light}"):
        await user.should_see(marker="result-call_1")
