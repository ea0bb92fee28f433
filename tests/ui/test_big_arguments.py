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
        assert isinstance(code, ui.code) and len(code.content) == SHOWN_CHARS
