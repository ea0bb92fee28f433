"""A tool call with arguments near the webhook's 1 MB limit: the card and the run page draw only their start."""

from __future__ import annotations

import pytest
from nicegui import ui
from nicegui.testing import User

from app.ui.components.arguments import SHOWN_CHARS
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
