"""The Audit page: a handler saved by a signed-in person shows up with their name, newest first; a viewer reads it."""

from __future__ import annotations

import pytest
from nicegui import ui
from nicegui.testing import User

from app.states import Role
from tests.builders import open_handler_editor, settled, sign_in_user, take_errors, wait_for


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


@pytest.mark.parametrize("page", ["abc", None, -3, 10**30, 1.5])
async def test_audit_page_request_with_bad_page_says_so_without_error(
    user: User, caplog: pytest.LogCaptureFixture, page: object
):
    """A browser can send any event: a page number that is no page gives a message, not a traceback."""
    await user.open("/audit")
    await user.should_see(marker="audit-table")
    table = user.find(marker="audit-table")
    await settled(lambda: table.trigger("request", {"pagination": {"page": page, "rowsPerPage": 50}}))
    assert take_errors(caplog) == []
    await user.should_see("That page is out of range")
