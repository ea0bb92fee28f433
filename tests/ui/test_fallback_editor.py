"""The handler editor's fallback field: "answer N s before expiry if nobody has"."""

from __future__ import annotations

from nicegui.testing import User

from tests.builders import Console, open_handler_editor, set_value


async def test_save_with_fallback_stores_its_seconds(user: User, console: Console):
    await open_handler_editor(user)
    user.find(marker="static-output").type("12:00 UTC")
    set_value(user, "fallback-on", True)
    set_value(user, "fallback-seconds", 45)
    user.find(marker="save-handler").click()
    await user.should_see("saved as version 1")
    handler = (await console.handlers())["get_current_time"]
    assert (handler["mode"], handler["behaviour"]["fallback_seconds"]) == ("manual", 45)

    set_value(user, "fallback-on", False)
    user.find(marker="save-handler").click()
    await user.should_see("saved as version 2")
    assert "fallback_seconds" not in (await console.handlers())["get_current_time"]["behaviour"]


async def test_save_with_fallback_out_of_range_shows_problem(user: User, console: Console):
    await open_handler_editor(user)
    user.find(marker="static-output").type("12:00 UTC")
    set_value(user, "fallback-on", True)
    set_value(user, "fallback-seconds", 0)
    user.find(marker="save-handler").click()
    await user.should_see("fallback_seconds 0 is outside 1 to 86400 s")
    assert await console.handlers() == {}
