"""The Audit page: a handler saved by a signed-in person shows up with their name, newest first; a viewer reads it."""

from __future__ import annotations

from nicegui import ui
from nicegui.testing import User

from app.states import Role
from tests.builders import open_handler_editor, sign_in_user, wait_for


def _rows(user: User) -> list[dict]:
    table = user.find(marker="audit-table").elements.pop()
    assert isinstance(table, ui.table)
    return table.rows


async def test_handler_save_by_a_person_shows_on_audit_page_with_their_name(user: User):
    sign_in_user(user, role=Role.ADMIN, name="carol")
    await open_handler_editor(user)
    user.find(marker="static-output").type("12:00 UTC")
    user.find(marker="save-handler").click()
    await user.should_see("saved as version 1")

    user.find(marker="nav-audit").click()
    await user.should_see(marker="audit-table")
    newest = (await wait_for(lambda: _rows(user)))[0]
    assert (newest["who"], newest["action"], newest["detail"]) == (
        "carol",
        "handler saved",
        "Clock · get_current_time v1 (static, manual)",
    )


async def test_viewer_opens_audit_page(user: User):
    sign_in_user(user, role=Role.VIEWER, name="vera")
    await user.open("/audit")
    await user.should_see("Who changed handlers, modes, settings, users or tokens")
    rows = await wait_for(lambda: _rows(user))
    assert ("user added", "vera (viewer)") in [(row["action"], row["detail"]) for row in rows]
