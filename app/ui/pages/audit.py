"""Audit: who changed handlers, modes, settings, users or tokens, and when; newest first, a page at a time.

Every signed-in role may read it (a viewer too: it shows names and what changed, never a secret).
"""

from __future__ import annotations

import asyncio
from typing import Any

from nicegui import ui

from app.runtime import get_runtime
from app.services import audit
from app.states import AuditAction
from app.ui.format import stamp
from app.ui.live import Live

PER_PAGE = 50
MAX_PAGE = 1_000_000
"""The last page number asked for (the API's offset bound, 10^9, over ``PER_PAGE`` rounded down): a browser can
send any number, and SQLite takes offsets only up to 2^63."""
ACTIONS = {
    AuditAction.HANDLER_SAVED: "handler saved",
    AuditAction.HANDLER_RESTORED: "handler restored",
    AuditAction.HANDLER_IMPORTED: "handler imported",
    AuditAction.MODE_CHANGED: "mode changed",
    AuditAction.HANDLER_DELETED: "handler deleted",
    AuditAction.SECRET_ROTATED: "webhook secret rotated",
    AuditAction.USER_ADDED: "user added",
    AuditAction.USER_CHANGED: "user changed",
    AuditAction.USER_REMOVED: "user removed",
    AuditAction.TOKEN_CREATED: "token created",
    AuditAction.TOKEN_REVOKED: "token revoked",
}
COLUMNS: list[dict[str, Any]] = [
    {"name": "at", "label": "When", "field": "at", "align": "left"},
    {"name": "who", "label": "Who", "field": "who", "align": "left"},
    {"name": "action", "label": "What", "field": "action", "align": "left"},
    {"name": "detail", "label": "Detail", "field": "detail", "align": "left"},
]


def page(live: Live) -> None:
    ui.page_title("Audit · Tooldesk")
    ui.label("Audit").classes("text-2xl font-bold")
    ui.label("Who changed handlers, modes, settings, users or tokens, and when; newest first.").classes("text-grey-8")
    table = (
        ui.table(columns=COLUMNS, rows=[], row_key="id", pagination={"rowsPerPage": PER_PAGE, "page": 1})
        .classes("w-full")
        .props("flat bordered dense")
        .mark("audit-table")
    )

    async def load(page_number: int | None = None) -> None:
        pagination = dict(table.pagination)
        number = int(page_number or pagination.get("page") or 1)
        engine = get_runtime().engine
        entries, total = await asyncio.to_thread(
            lambda: audit.list_audit(engine=engine, limit=PER_PAGE, offset=(number - 1) * PER_PAGE)
        )
        rows = [
            {"id": e.id, "at": stamp(e.at), "who": e.who, "action": ACTIONS.get(e.action, e.action), "detail": e.detail}
            for e in entries
        ]
        shown = {**pagination, "page": number, "rowsPerPage": PER_PAGE, "rowsNumber": total}
        if rows == table.rows and shown == pagination:
            return  # every change of a run reaches this page: redraw only what changed (issue 10)
        table.rows, table.pagination = rows, shown
        table.update()

    async def requested(event: Any) -> None:
        pagination = event.args.get("pagination") if isinstance(event.args, dict) else None
        number = _page_number(pagination.get("page") if isinstance(pagination, dict) else None)
        if number is None:
            ui.notify("That page is out of range", type="warning")
            return
        await load(number)

    table.on("request", requested)
    live.listen(lambda _task_id: load())
    ui.timer(0, load, once=True)


def _page_number(value: object) -> int | None:
    """A page number the table asked for, or ``None`` when it is not a whole number from 1 to ``MAX_PAGE``."""
    if isinstance(value, str) and value.isascii() and value.isdigit():
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int):
        return None
    return value if 1 <= value <= MAX_PAGE else None
