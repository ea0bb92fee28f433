"""The Audit page: a handler saved by a signed-in person shows up with their name, newest first; a viewer reads it."""

from __future__ import annotations

import asyncio

import pytest
from nicegui import ui
from nicegui.testing import User

from app.services import audit as audit_service
from app.states import Role
from tests.builders import (
    Console,
    make_status,
    open_handler_editor,
    settled,
    sign_in_user,
    take_errors,
    wait_for,
)


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


async def test_audit_page_reads_again_on_a_change_but_redraws_only_what_changed(
    user: User, console: Console, monkeypatch: pytest.MonkeyPatch
):
    """Every change of a run reaches every open page; the audit table is sent to the browser again only when its
    rows changed (each redraw re-renders the table in every open Audit tab)."""
    reads: list[int] = []
    real = audit_service.list_audit
    monkeypatch.setattr(audit_service, "list_audit", lambda **kw: reads.append(1) or real(**kw))
    await user.open("/audit")
    [table] = user.find(marker="audit-table").elements
    await wait_for(lambda: reads and "rowsNumber" in table.pagination)  # the first load has drawn
    await asyncio.sleep(0.5)  # and any load a change at the page's start asked for
    sent: list[list[dict]] = []
    monkeypatch.setattr(table, "update", lambda: sent.append(list(table.rows)))
    before = len(reads)
    await console.deliver(make_status(8601), "m_audit_run")
    await wait_for(lambda: len(reads) > before)  # the page read again
    await asyncio.sleep(0.2)
    assert sent == []
