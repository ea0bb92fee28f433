"""The shared frame: header with navigation, live updates, and the sub pages.

Each browser tab subscribes once, here, to ``services.bus.changes``; the sub
page on screen registers its refresh callback with ``Live.listen`` (NiceGUI
notes: subscribe in the root layout, not in a sub page builder).
"""

from __future__ import annotations

import asyncio

from nicegui import ui

from app.runtime import get_runtime
from app.services import rounds
from app.services.bus import changes
from app.ui.live import Live
from app.ui.pages import agents, deliveries, handlers, inbox, run, runs


def root() -> None:
    """The root page: header, navigation, pending-rounds badge, and the sub pages."""
    ui.colors(primary="#2f5d8a")
    live = Live()
    with ui.header().classes("items-center gap-4 px-6 py-2 bg-white text-grey-9 shadow-1"):
        with ui.row().classes("items-center gap-1"):
            ui.icon("support_agent", color="primary").classes("text-2xl")
            ui.label("Tooldesk").classes("text-lg font-bold text-primary")
        with ui.row().classes("gap-1"):
            with ui.button("Inbox", icon="inbox", on_click=lambda: ui.navigate.to("/")).props("flat no-caps"):
                badge = ui.badge("", color="orange").props("floating").mark("inbox-count")
            ui.button("Runs", icon="timeline", on_click=lambda: ui.navigate.to("/runs")).props("flat no-caps")
            ui.button("Agents", icon="smart_toy", on_click=lambda: ui.navigate.to("/agents")).props("flat no-caps")
            ui.button("Handlers", icon="build", on_click=lambda: ui.navigate.to("/handlers")).props("flat no-caps")
            ui.button("Deliveries", icon="move_to_inbox", on_click=lambda: ui.navigate.to("/deliveries")).props(
                "flat no-caps"
            )
        ui.space()
        settings = get_runtime().settings
        target = "embedded simulator" if settings.embedded_simulator else settings.platform_url
        ui.label(f"platform: {target}").classes("text-xs text-grey-7")
        ui.link("API docs", "/docs", new_tab=True).classes("text-xs")

    async def update_badge() -> None:
        engine = get_runtime().engine
        pending = await asyncio.to_thread(lambda: len(rounds.list_pending_rounds(engine=engine)))
        badge.set_text(str(pending))
        badge.set_visibility(pending > 0)

    async def on_change(task_id: int) -> None:
        await update_badge()
        await live.notify(task_id)

    changes.subscribe(on_change)
    ui.timer(0, update_badge, once=True)
    with ui.column().classes("w-full max-w-6xl mx-auto p-4"):
        ui.sub_pages(
            {
                "/": inbox.page,
                "/runs": runs.page,
                "/runs/{task_id}": run.page,
                "/agents": agents.page,
                "/handlers": handlers.page,
                "/deliveries": deliveries.page,
            },
            data={"live": live},
        ).classes("w-full")
