"""Keys: they act on the page on screen only."""

from __future__ import annotations

import asyncio

import httpx
import pytest
from nicegui import ui
from nicegui.testing import User

from tests.builders import encode, make_status, sign
from tests.ui.test_keyboard import _press


async def test_press_ctrl_enter_on_agents_page_does_not_submit_inbox_round(user: User, console: httpx.AsyncClient):
    """Regression: The Agents page never calls ``live.listen``, so the Inbox's key handler stays installed after leaving the
    Inbox: Ctrl+Enter on the Agents page sends the round selected (and typed into) before, unseen."""
    raw = encode(make_status(8401))
    assert (await console.post("/webhooks/sudoiq", content=raw, headers=sign(raw, msg_id="m1"))).status_code == 200
    await user.open("/")
    await user.should_see("run 8401 · round 1")
    _press(user, "j")
    user.find(marker="result-call_1").type("half typed")
    user.find("Agents").click()
    await user.should_not_see(marker="result-call_1")
    _press(user, "Enter", ctrl=True, marker="keys-anywhere")
    await asyncio.sleep(0.3)
    run = (await console.get("/api/runs/8401")).json()
    assert run["rounds"][0]["state"] == "pending"


async def test_press_slash_on_overview_focuses_runs_search(
    user: User, console: httpx.AsyncClient, monkeypatch: pytest.MonkeyPatch
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
    _press(user, "/")
    await user.should_see(marker="runs-search")
    await asyncio.sleep(0.3)
    assert focused == ["Search"]
