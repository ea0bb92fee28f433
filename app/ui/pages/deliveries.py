"""Deliveries: every webhook request received, newest first, with its verdict; search them by task_id and by text
in the body; replay one, or edit then replay; copy one as curl; diff a replay against its original.

A replay goes through ingestion again as a new delivery: a new webhook-id, a fresh timestamp, a signature made
with the console's own secret, and ``replay of #id`` in the log.
"""

import asyncio
import json
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

from nicegui import events, ui
from pydantic import ValidationError

from app.errors import TooldeskError
from app.models import DeliveryPublic, DeliverySummary
from app.runtime import get_runtime
from app.services import body_search, deliveries, ingest
from app.states import Role, Verdict
from app.ui import access
from app.ui.components import delivery_tools
from app.ui.format import browser_id, id_from_row_click, pretty_json, stamp
from app.ui.live import Live
from app.ui.looks import color_slot
from app.webhooks.body import size_text

VERDICTS = {
    "": "every verdict",
    Verdict.APPLIED: "applied",
    Verdict.HISTORY: "history (older sequence)",
    Verdict.DUPLICATE: "duplicate",
    Verdict.BAD_HEADERS: "refused: headers",
    Verdict.BAD_TIMESTAMP: "refused: timestamp",
    Verdict.BAD_SIGNATURE: "refused: signature",
    Verdict.BAD_BODY: "refused: body",
    Verdict.TOO_LARGE: "refused: too large",
}
COLUMNS: list[dict[str, Any]] = [
    {"name": "id", "label": "#", "field": "id", "align": "left"},
    {"name": "received", "label": "Received", "field": "received", "align": "left"},
    {"name": "webhook_id", "label": "webhook-id", "field": "webhook_id", "align": "left"},
    {"name": "task_id", "label": "task_id", "field": "task_id", "align": "left"},
    {"name": "status", "label": "Status", "field": "status", "align": "left"},
    {"name": "sequence", "label": "Sequence", "field": "sequence", "align": "left"},
    {"name": "verdict", "label": "Verdict", "field": "verdict", "align": "left"},
    {"name": "answered", "label": "Answered", "field": "answered", "align": "left"},
    {"name": "body", "label": "Body", "field": "body", "align": "left"},
]
MAX_EDIT_CHARS = 500_000
CLAIMED = "claimed, unverified"


def page(live: Live, verdict: str = "", task_id: str = "", q: str = "") -> None:
    ui.page_title("Deliveries · Tooldesk")
    admin = access.may(Role.ADMIN)  # who sees stored signatures (``deliveries.shown_headers``)
    claimed = _task_id(task_id)
    where = deliveries.DeliveryFilter.model_validate(
        {
            "verdict": verdict if verdict in VERDICTS and verdict else None,
            "task_id": claimed if claimed != -1 else None,
            "q": q[:200] or None,
        }
    )
    state = _View(where=where)
    with ui.row().classes("w-full items-center gap-3"):
        ui.label("Deliveries").classes("text-2xl font-bold")
        ui.space()
        ui.input(
            "Search bodies",
            value=where.q or "",
            placeholder="text in the body",
            on_change=lambda e: choose(q=e.value or None),
        ).props("outlined dense clearable debounce=400 maxlength=200").classes("w-64").mark("deliveries-search")
        ui.input(
            "task_id", value=str(where.task_id or ""), on_change=lambda e: choose(task_id=_task_id(e.value))
        ).props("outlined dense clearable debounce=400").classes("w-40").mark("deliveries-task-id")
        ui.select(
            VERDICTS, value=where.verdict or "", label="Verdict", on_change=lambda e: choose(verdict=e.value or None)
        ).props("outlined dense").classes("w-56").mark("deliveries-verdict")
    ui.label(
        "Every webhook request as received, refused ones included (their task_id is what the body claims, "
        "unverified; refused bodies are kept as their first 4 KB)."
    ).classes("text-grey-7")
    count = ui.label("").classes("text-sm text-grey-7").mark("deliveries-count")
    table = (
        ui.table(
            columns=COLUMNS,
            rows=[],
            row_key="id",
            pagination={"page": 1, "rowsPerPage": where.per_page, "rowsNumber": 0},
        )
        .classes("w-full")
        .props("flat bordered :rows-per-page-options=[25,50,100,200]")
        .mark("deliveries-table")
    )
    table.add_slot("body-cell-verdict", color_slot())

    async def choose(**change: Any) -> None:
        if change.get("task_id") == -1:
            return  # not a task_id (yet): keep the list as it is
        state.where = state.where.model_copy(update={**change, "page": 1})
        state.cursors = {1: None}
        await refresh()

    async def on_request(event: events.GenericEventArguments) -> None:
        pagination: Any = event.args.get("pagination") if isinstance(event.args, dict) else None
        if not isinstance(pagination, dict):  # a browser can send any event
            ui.notify("That page or page size is out of range", type="warning")
            return
        try:
            where = deliveries.DeliveryFilter.model_validate(
                {
                    **state.where.model_dump(),
                    "page": int(pagination.get("page") or 1),
                    "per_page": int(pagination.get("rowsPerPage") or 50),
                }
            )
        except (ValidationError, ValueError, TypeError):
            ui.notify("That page or page size is out of range", type="warning")
            return
        if where.per_page != state.where.per_page:
            state.cursors = {1: None}  # the cursors mark pages of the old size
        state.where = where
        await refresh()

    def keep_total(_event: events.GenericEventArguments) -> None:
        if table.pagination.get("rowsNumber") != state.rows_number:
            table.pagination = {**table.pagination, "rowsNumber": state.rows_number}
            table.update()

    async def refresh(_task_id: int = 0) -> None:
        engine, current = get_runtime().engine, state.where
        asked = state.keyset(current)
        found = await asyncio.to_thread(lambda: deliveries.list_deliveries(engine=engine, where=asked, admin=admin))
        if state.where is not current:  # another page or filter was chosen while this read: its refresh shows it
            return  # (a live refresh that began before a jump must not put the old page back, nor its cursor)
        if found.next_before is not None:
            state.cursors[current.page + 1] = found.next_before
        shown = (current.page - 1) * current.per_page + len(found.deliveries)
        state.rows_number = max(found.total, shown + (1 if found.next_before is not None else 0))
        table.rows = [_row(item) for item in found.deliveries]
        table.pagination = {"page": current.page, "rowsPerPage": current.per_page, "rowsNumber": state.rows_number}
        table.update()
        total = f"{found.total:,}" if found.total_exact else f"more than {found.total:,}"
        count.set_text(
            f"{total} deliver{'y' if found.total == 1 and found.total_exact else 'ies'}"
            + ("" if found.searched_above is None else f" in the newest {body_search.SEARCH_WINDOW:,} searched")
        )
        query = urlencode(
            {
                name: value
                for name, value in [("verdict", current.verdict), ("task_id", current.task_id), ("q", current.q)]
                if value
            }
        )
        ui.navigate.history.replace(f"/deliveries?{query}" if query else "/deliveries")

    async def open_delivery(event: events.GenericEventArguments) -> None:
        engine = get_runtime().engine
        delivery_id = id_from_row_click(event.args, "id")
        if delivery_id is None:
            ui.notify("That row has no delivery id the console can open", type="warning")
            return
        item = await asyncio.to_thread(
            lambda: deliveries.get_delivery(engine=engine, delivery_id=delivery_id, admin=admin)
        )
        _dialog(item)

    table.on("request", on_request)
    table.on("update:pagination", keep_total)
    table.on("rowClick", access.guarded(Role.VIEWER, open_delivery))  # a session ended elsewhere sees no more
    live.listen(refresh)
    ui.timer(0, refresh, once=True)


@dataclass
class _View:
    """The filter and page shown; ``cursors``: for each page reached by paging, the ``before`` that starts it
    (keyset pagination: page 1 has none). A page met by a jump is read from the nearest cursor before it."""

    where: deliveries.DeliveryFilter
    rows_number: int = 0
    cursors: dict[int, int | None] = field(default_factory=lambda: {1: None})

    def keyset(self, where: deliveries.DeliveryFilter) -> deliveries.DeliveryFilter:
        """``where`` as the service reads it: from the page's own cursor, or the nearest one before it."""
        start = max(page for page in self.cursors if page <= where.page)
        return where.model_copy(update={"before": self.cursors[start], "page": where.page - start + 1})


def _task_id(value: object) -> int | None:
    """``None`` for an empty field, the number for a task_id, ``-1`` for anything else."""
    text = str(value or "").strip()
    if not text:
        return None
    return int(text) if text.isascii() and text.isdigit() and 0 < int(text) < 2**63 else -1


def _row(item: DeliverySummary) -> dict[str, Any]:
    task = browser_id(item.task_id) + (f" ({CLAIMED})" if item.task_id_claimed and item.task_id is not None else "")
    answered = f"{item.answered_status}" + ("" if item.replay_of is None else f" (replay of #{item.replay_of})")
    if item.console_made:
        answered += " · made in the console"
    return {
        "id": browser_id(item.id),
        "received": stamp(item.received_at),
        "webhook_id": item.webhook_id or "",
        "task_id": task,
        "status": item.status or "",
        "sequence": browser_id(item.sequence),
        "verdict": item.verdict,
        "answered": answered,
        "body": item.body_note or size_text(item.body_length if item.body_length is not None else item.body_stored),
    }


def _dialog(item: DeliveryPublic) -> None:
    with ui.dialog() as dialog, ui.card().classes("w-[56rem] max-w-full").mark("delivery-dialog"):
        ui.label(f"Delivery #{item.id} · {item.verdict} · answered {item.answered_status}").classes("text-lg font-bold")
        details = f"webhook-id {item.webhook_id} · received {stamp(item.received_at)}"
        if item.replay_of is not None:
            details += f" · replay of #{item.replay_of}"
        if item.task_id_claimed:
            details += f" · claims task_id {item.task_id} ({CLAIMED})"
        ui.label(details).classes("text-sm text-grey-8")
        if item.console_made:
            ui.label("Made in the console (an edited replay), not sent by the platform.").classes(
                "text-sm text-orange-9"
            ).mark("delivery-console-made")
        if item.body_note:
            ui.label(f"Body kept: {item.body_note}").classes("text-sm text-orange-9").mark("delivery-body-note")
        if item.message:
            ui.label(item.message).classes("text-sm")
        ui.code(pretty_json(item.headers), language="json").classes("w-full text-xs").mark("delivery-headers")
        text = item.body if item.body is not None else ""
        editor = ui.codemirror(_pretty(text), language="JSON").classes("w-full h-72").mark("delivery-body")
        if item.body is None:
            ui.label(f"The body is not UTF-8; base64: {item.body_base64[:200]}").classes("text-sm text-negative")
        outcome = ui.label("").classes("text-sm").mark("replay-outcome")

        async def replay(edited: bool) -> None:
            body = (editor.value or "").encode() if edited else None
            if body is not None and len(body) > MAX_EDIT_CHARS:
                outcome.set_text(f"The edited body is {len(body):,} bytes (limit {MAX_EDIT_CHARS:,}).")
                return
            runtime = get_runtime()
            try:
                done = await asyncio.to_thread(
                    lambda: ingest.replay_delivery(
                        engine=runtime.engine, secret=runtime.secret, delivery_id=item.id, body=body
                    )
                )
            except TooldeskError as exc:
                outcome.set_text(exc.message)
                return
            error = done.body.get("error")
            message = str(error.get("message", "")) if isinstance(error, dict) else ""
            outcome.set_text(
                f"Replayed as delivery #{done.delivery_id}: {done.verdict}, answered {done.status_code}"
                + (f": {message}" if message else "")
            )
            runtime.delivered(done)

        replayable = item.verdict in ingest.REPLAYABLE
        if not replayable:
            ui.label(
                "A refused delivery cannot be replayed: the platform's signature never vouched for it, and the "
                "console will not sign it in the platform's name."
            ).classes("text-sm text-grey-8").mark("replay-refused")
        with ui.row():
            ui.button("Replay", icon="replay", on_click=access.guarded(Role.ADMIN, lambda: replay(False))).mark(
                "replay"
            ).set_enabled(replayable)
            ui.button(
                "Replay edited body", icon="edit", on_click=access.guarded(Role.ADMIN, lambda: replay(True))
            ).props("outline").mark("replay-edited").set_enabled(replayable)
            ui.button(
                "Copy as curl",
                icon="terminal",
                on_click=access.guarded(Role.VIEWER, lambda: delivery_tools.curl_dialog(item.id)),
            ).props("outline").mark("copy-curl")
            if item.replay_of is not None:
                ui.button(
                    f"Diff with #{item.replay_of}",
                    icon="difference",
                    on_click=access.guarded(Role.VIEWER, lambda: delivery_tools.diff_dialog(item.id)),
                ).props("outline").mark("diff-original")
            ui.button("Close", on_click=dialog.close).props("flat")
    dialog.open()


def _pretty(text: str) -> str:
    """The body indented when it is JSON, so it can be edited; as it is otherwise."""
    try:
        return pretty_json(json.loads(text))
    except ValueError:
        return text
