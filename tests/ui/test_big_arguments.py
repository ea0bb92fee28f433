"""A tool call with arguments near the webhook's 1 MB limit: the card and the run page draw only their start."""

from __future__ import annotations

import pytest
from nicegui import ui
from nicegui.testing import User

from app.ui.components.arguments import SHOWN_CHARS
from app.ui.components.round_form_fields import MAX_CARD_CALLS
from tests.builders import Console, make_status

BIG = 600_000
"""Characters in one call's arguments: within the webhook's 1 MB body limit."""


@pytest.mark.parametrize(
    "arguments",
    [{"note": "x" * BIG}, '{"note": "' + "x" * BIG],
    ids=["object", "does-not-parse"],
)
async def test_big_arguments_drawn_cut_with_a_note_on_card_and_run_page(
    user: User, console: Console, arguments: object
):
    body = make_status(7300, tool_calls=[{"id": "call_big", "name": "get_weather", "arguments": arguments}])
    await console.deliver(body, "msg_big")
    [round_] = await console.pending()
    [call] = round_["tool_calls"]
    assert len(call["arguments_text"] or str(call["arguments"])) > BIG  # the API keeps it all
    for page in ("/", "/runs/7300"):
        await user.open(page)
        await user.should_see(marker="arguments-cut-call_big", retries=100)
        await user.should_see(f"The first {SHOWN_CHARS:,} of ")
        code = user.find(marker="arguments-call_big").elements.pop()
        assert isinstance(code, ui.label) and len(code.text) == SHOWN_CHARS


async def test_arguments_holding_a_markdown_fence_are_shown_as_sent(user: User, console: Console):
    sent = '{"q": "x"}\n```\n**not bold** <a href="https://example.com">link</a>\n```'
    body = make_status(7301, tool_calls=[{"id": "call_fence", "name": "get_weather", "arguments": sent}])
    await console.deliver(body, "msg_fence")
    await user.open("/")
    await user.should_see(marker="arguments-call_fence", retries=100)
    shown = user.find(marker="arguments-call_fence").elements.pop()
    assert isinstance(shown, ui.label) and shown.text == sent  # text, never Markdown or HTML


async def test_inbox_cards_start_no_timers_of_their_own(user: User, console: Console):
    """One timer per page drives every card (README, "Expiry"): a timer per card, in every open tab, adds up to
    thousands of callbacks a second on the event loop that answers webhooks."""
    for task_id in range(7310, 7316):
        await console.deliver(make_status(task_id), f"msg_{task_id}")
    await user.open("/")
    await user.should_see("6 waiting", retries=100)
    timers = [e for e in user.current_layout.descendants() if isinstance(e, ui.timer)]
    assert len(timers) < 6, f"{len(timers)} timers for 6 cards"


async def test_round_of_thousands_of_calls_is_left_to_the_api_and_run_page_draws_the_first(
    user: User, console: Console
):
    """Regression: a round of 20,000 calls (within the 1 MB limit) built 20,000 result fields on the event loop and
    held the whole console, webhook included, for over a minute in each Inbox tab."""
    count = MAX_CARD_CALLS + 400
    calls = [{"id": f"call_{i}", "name": "get_weather", "arguments": {}} for i in range(count)]
    await console.deliver(make_status(7320, tool_calls=calls), "msg_many_calls")
    [round_] = await console.pending()

    await user.open("/")
    await user.should_see(f"This round has {count} tool calls", retries=100)
    await user.should_see(f"POST /api/rounds/{round_['id']}/responses")
    await user.should_see(f"… and {count - MAX_CARD_CALLS} more tool calls")
    await user.should_not_see(marker="result-call_0")
    await user.open("/runs/7320")
    await user.should_see(f"The first {MAX_CARD_CALLS} of {count} tool calls", retries=100)
    await user.should_see(marker=f"arguments-call_{MAX_CARD_CALLS - 1}")
    await user.should_not_see(marker=f"arguments-call_{MAX_CARD_CALLS}")
