"""A delivery's tools on the Deliveries page: *Copy as curl*, and a replay's diff against its original.

Both call the services the API calls (``app.services.delivery_curl``, ``app.services.delivery_diff``). The diff
is drawn as escaped HTML (one ``<table>`` for the side-by-side view, one ``<pre>`` for the unified one) rather
than an element per line: a body can have thousands of lines.
"""

from __future__ import annotations

import asyncio
import html
import time

from nicegui import ui

from app.errors import TooldeskError
from app.runtime import get_runtime
from app.services import delivery_curl, delivery_diff
from app.states import Role
from app.ui import access

ROW_CLASSES = {"same": "", "changed": "bg-amber-1", "removed": "bg-red-1", "added": "bg-green-1"}
MARKS = {"same": " ", "changed": "~", "removed": "-", "added": "+"}


async def curl_dialog(delivery_id: int) -> None:
    """Show delivery ``delivery_id`` as a curl command, with a *Copy* button and the note on its signature.
    Signed only for an admin, and only when the platform's signature vouched for the delivery (case C16)."""
    runtime = get_runtime()
    secret = runtime.secret if access.may(Role.ADMIN) else None
    url = runtime.settings.webhook_url
    try:
        made = await asyncio.to_thread(
            lambda: delivery_curl.curl_command(
                engine=runtime.engine, delivery_id=delivery_id, url=url, secret=secret, now=time.time()
            )
        )
    except TooldeskError as exc:
        ui.notify(exc.message, type="warning")
        return
    with ui.dialog() as dialog, ui.card().classes("w-[56rem] max-w-full").mark("curl-dialog"):
        dialog.on("hide", dialog.delete)
        ui.label(f"Delivery #{delivery_id} as curl").classes("text-lg font-bold")
        ui.label(made.note).classes("text-sm " + ("text-grey-8" if made.signed else "text-orange-9")).mark("curl-note")
        ui.label(made.command[:20_000]).classes(
            "font-mono text-xs whitespace-pre-wrap break-all bg-grey-2 p-2 w-full max-h-96 overflow-auto"
        ).mark("curl-command")
        if len(made.command) > 20_000:
            ui.label(f"The first 20,000 of {len(made.command):,} characters are shown; Copy copies them all.").classes(
                "text-xs text-grey-7"
            )
        with ui.row():
            ui.button("Copy", icon="content_copy", on_click=lambda: _copy(made.command)).mark("curl-copy")
            ui.button("Close", on_click=dialog.close).props("flat")
    dialog.open()


def _copy(command: str) -> None:
    ui.clipboard.write(command)
    ui.notify("Copied the curl command", type="positive")


async def diff_dialog(delivery_id: int) -> None:
    """Show replay ``delivery_id`` against its original: fields and headers that differ, then the bodies side
    by side or unified (a toggle)."""
    engine, admin = get_runtime().engine, access.may(Role.ADMIN)
    try:
        diff = await asyncio.to_thread(
            lambda: delivery_diff.delivery_diff(engine=engine, delivery_id=delivery_id, admin=admin)
        )
    except TooldeskError as exc:
        ui.notify(exc.message, type="warning")
        return
    with ui.dialog() as dialog, ui.card().classes("w-[72rem] max-w-full").mark("diff-dialog"):
        dialog.on("hide", dialog.delete)
        ui.label(f"Replay #{diff.replay_id} against its original #{diff.original_id}").classes("text-lg font-bold")
        changed = [c for c in (*diff.fields, *diff.headers) if not c.same]
        with ui.column().classes("gap-0 w-full").mark("diff-changes"):
            for change in changed:
                ui.label(f"{change.name}: {change.original or '(none)'} → {change.replay or '(none)'}").classes(
                    "font-mono text-xs"
                ).mark(f"diff-change-{change.name}")
        ui.label("The bodies are the same, byte for byte." if diff.body_same else "The bodies differ:").classes(
            "text-sm font-bold"
        ).mark("diff-body-same" if diff.body_same else "diff-body-differs")
        if diff.note:
            ui.label(diff.note).classes("text-xs text-grey-7")
        view = ui.toggle({"side": "Side by side", "unified": "Unified"}, value="side").mark("diff-mode")
        side = ui.html(_side_by_side(diff), sanitize=False).classes("w-full max-h-[32rem] overflow-auto")
        side.mark("diff-side-by-side")
        unified = ui.html(
            f"<pre class='text-xs'>{html.escape(diff.unified or ('(not compared)' if diff.too_large else '(no difference)'))}</pre>",
            sanitize=False,
        ).classes("w-full max-h-[32rem] overflow-auto")
        unified.mark("diff-unified")
        side.bind_visibility_from(view, "value", value="side")
        unified.bind_visibility_from(view, "value", value="unified")
        ui.button("Close", on_click=dialog.close).props("flat")
    dialog.open()


def _side_by_side(diff: delivery_diff.DeliveryDiff) -> str:
    rows = [
        f"<tr class='{ROW_CLASSES[line.tag]}'>"
        f"<td class='text-grey-6 pr-1 align-top' style='white-space: nowrap'>{line.original_no or ''}</td>"
        f"<td class='pr-2 w-1/2 align-top' style='white-space: pre-wrap'>{html.escape(line.original or '')}</td>"
        f"<td class='text-grey-6 pr-1 align-top' style='white-space: nowrap'>{MARKS[line.tag]} {line.replay_no or ''}</td>"
        f"<td class='w-1/2 align-top' style='white-space: pre-wrap'>{html.escape(line.replay or '')}</td></tr>"
        for line in diff.side_by_side
    ]
    head = (
        f"<tr><th></th><th class='text-left'>original #{diff.original_id}</th><th></th>"
        f"<th class='text-left'>replay #{diff.replay_id}</th></tr>"
    )
    return f"<table class='font-mono text-xs w-full'>{head}{''.join(rows)}</table>"
