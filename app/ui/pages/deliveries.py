"""Deliveries: every webhook request received, newest first, with its verdict; replay one, or edit then replay.

A replay goes through ingestion again as a new delivery: a new webhook-id, a fresh timestamp, a signature made
with the console's own secret, and ``replay of #id`` in the log.
"""

import asyncio
import json
from typing import Any

from nicegui import events, ui

from app.errors import TooldeskError
from app.models import DeliveryPublic
from app.runtime import get_runtime
from app.services import deliveries, ingest
from app.states import Role, Verdict
from app.ui import access
from app.ui.format import pretty_json, stamp
from app.ui.live import Live
from app.ui.looks import color_slot

VERDICTS = {
    "": "every verdict",
    Verdict.APPLIED: "applied",
    Verdict.HISTORY: "history (older sequence)",
    Verdict.DUPLICATE: "duplicate",
    Verdict.BAD_HEADERS: "refused: headers",
    Verdict.BAD_TIMESTAMP: "refused: timestamp",
    Verdict.BAD_SIGNATURE: "refused: signature",
    Verdict.BAD_BODY: "refused: body",
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
]
MAX_EDIT_CHARS = 500_000


def page(live: Live, verdict: str = "") -> None:
    ui.page_title("Deliveries · Tooldesk")
    state = {"verdict": verdict if verdict in VERDICTS else ""}
    with ui.row().classes("w-full items-center gap-3"):
        ui.label("Deliveries").classes("text-2xl font-bold")
        ui.space()
        ui.select(VERDICTS, value=state["verdict"], label="Verdict", on_change=lambda e: choose(e.value or "")).props(
            "outlined dense"
        ).classes("w-56").mark("deliveries-verdict")
    ui.label("Every webhook request as received, refused ones included; the newest 200.").classes("text-grey-7")
    table = (
        ui.table(columns=COLUMNS, rows=[], row_key="id", pagination=50)
        .classes("w-full")
        .props("flat bordered")
        .mark("deliveries-table")
    )
    table.add_slot("body-cell-verdict", color_slot())

    async def choose(value: str) -> None:
        state["verdict"] = value
        ui.navigate.history.replace(f"/deliveries?verdict={value}" if value else "/deliveries")
        await refresh()

    async def refresh(_task_id: int = 0) -> None:
        engine = get_runtime().engine
        found = await asyncio.to_thread(
            lambda: deliveries.list_deliveries(engine=engine, verdict=state["verdict"] or None)
        )
        table.rows = [_row(item) for item in found]
        table.update()

    async def open_delivery(event: events.GenericEventArguments) -> None:
        engine = get_runtime().engine
        item = await asyncio.to_thread(
            lambda: deliveries.get_delivery(engine=engine, delivery_id=int(event.args[1]["id"]))
        )
        _dialog(item)

    table.on("rowClick", open_delivery)
    live.listen(refresh)
    ui.timer(0, refresh, once=True)


def _row(item: DeliveryPublic) -> dict[str, Any]:
    return {
        "id": item.id,
        "received": stamp(item.received_at),
        "webhook_id": item.webhook_id or "",
        "task_id": item.task_id or "",
        "status": item.status or "",
        "sequence": item.sequence or "",
        "verdict": item.verdict,
        "answered": item.answered_status
        if item.replay_of is None
        else f"{item.answered_status} (replay of #{item.replay_of})",
    }


def _dialog(item: DeliveryPublic) -> None:
    with ui.dialog() as dialog, ui.card().classes("w-[56rem] max-w-full").mark("delivery-dialog"):
        ui.label(f"Delivery #{item.id} · {item.verdict} · answered {item.answered_status}").classes("text-lg font-bold")
        details = f"webhook-id {item.webhook_id} · received {stamp(item.received_at)}"
        if item.replay_of is not None:
            details += f" · replay of #{item.replay_of}"
        ui.label(details).classes("text-sm text-grey-8")
        if item.message:
            ui.label(item.message).classes("text-sm")
        ui.code(pretty_json(item.headers), language="json").classes("w-full text-xs")
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
            ui.button("Close", on_click=dialog.close).props("flat")
    dialog.open()


def _pretty(text: str) -> str:
    """The body indented when it is JSON, so it can be edited; as it is otherwise."""
    try:
        return pretty_json(json.loads(text))
    except ValueError:
        return text
