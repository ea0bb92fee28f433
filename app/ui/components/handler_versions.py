"""A handler's saved versions, newest first, each with a Restore button (restoring saves it again as the newest)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from nicegui import ui

from app.services.handler_store import VersionPublic
from app.states import Role
from app.ui import access
from app.ui.format import stamp
from app.ui.looks import color

SHOWN = 30


def versions_card(
    versions: list[VersionPublic], *, current: int | None, restore: Callable[[int], Awaitable[None]]
) -> None:
    with ui.card().classes("w-full gap-1").props("flat bordered").mark("versions"):
        with ui.row().classes("w-full items-center gap-2"):
            ui.icon("history", color="primary").classes("text-xl")
            ui.label("Versions").classes("text-lg font-bold")
            ui.label(
                "every save that changes something is a version; Restore saves an old one again as the newest"
            ).classes("text-sm text-grey-7")
        if not versions:
            ui.label("Not saved yet.").classes("text-grey-6 italic")
        for item in versions[:SHOWN]:
            with (
                ui.row()
                .classes("w-full items-center gap-3 py-1 border-b border-gray-200 no-wrap")
                .mark(f"version-{item.version}")
            ):
                ui.label(f"v{item.version}").classes("font-bold w-10")
                ui.label(stamp(item.saved_at)).classes("text-sm text-grey-7 whitespace-nowrap")
                ui.badge(item.kind, color=color(item.kind)).props("outline")
                ui.badge(item.mode, color=color(item.mode)).props("outline")
                ui.label(item.note).classes("text-sm grow ellipsis").tooltip(item.note or "")
                if item.version == current:
                    ui.label("current").classes("text-xs text-grey-6 px-2")
                else:
                    ui.button(
                        "Restore",
                        icon="restore",
                        on_click=access.guarded(Role.ADMIN, lambda v=item.version: restore(v)),
                    ).props("flat dense no-caps size=sm").mark(f"version-{item.version}-restore")
        if len(versions) > SHOWN:
            ui.label(f"… and {len(versions) - SHOWN} older versions").classes("text-sm text-grey-6")
