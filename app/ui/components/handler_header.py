"""The top of the handler editor: agent and tool, the saved version, and the kind and mode toggles."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from nicegui import ui

from app.models import HandlerPublic
from app.states import HandlerKind, HandlerMode
from app.ui.format import clock
from app.ui.looks import color

KINDS = {kind: str(kind) for kind in HandlerKind}
MODES = {mode: str(mode) for mode in HandlerMode}
MODE_HINTS = {
    HandlerMode.MANUAL: "A person answers every call in the Inbox; the handler runs only under Test.",
    HandlerMode.SUGGEST: "The handler's answer pre-fills the Inbox form; a person approves or edits it.",
    HandlerMode.AUTO: "The handler answers by itself; a round whose calls are all auto is sent without a person.",
}


class HandlerHeader:
    """A card with the tool's names and description, a status badge, a reload banner, and the two toggles."""

    def __init__(
        self, *, agent_name: str, tool_name: str, description: str, kind: str, mode: str, on_kind: Callable[[], Any]
    ) -> None:
        with ui.card().classes("w-full gap-2").props("flat bordered"):
            with ui.row().classes("w-full items-center gap-2"):
                ui.label(agent_name).classes("text-xl font-bold")
                ui.icon("chevron_right", color="grey-6")
                ui.label(tool_name).classes("text-xl font-mono")
                ui.space()
                self.status = ui.badge("", color="grey-7").props("outline").classes("text-sm").mark("handler-status")
            if description:
                ui.label(description).classes("text-grey-8")
            self.banner = ui.row().classes("w-full items-center gap-2 bg-orange-1 rounded px-3 py-1")
            self.banner.set_visibility(False)
            with ui.row().classes("w-full items-start gap-8 no-wrap"):
                with ui.column().classes("gap-1 shrink-0"):
                    ui.label("Kind").classes("text-xs text-grey-7 uppercase tracking-wide")
                    self.kind = ui.toggle(KINDS, value=kind, on_change=on_kind).props("no-caps unelevated").mark("kind")
                with ui.column().classes("gap-1 grow min-w-0"):
                    ui.label("Mode").classes("text-xs text-grey-7 uppercase tracking-wide")
                    self.mode = (
                        ui.toggle(MODES, value=mode, on_change=self._show_mode)
                        .props("no-caps unelevated")
                        .mark("editor-mode")
                    )
                    self.mode_hint = ui.label().classes("text-sm text-grey-7")
        self._show_mode()

    def show(self, handler: HandlerPublic | None) -> None:
        """The saved state in the badge; hides the reload banner."""
        self.banner.set_visibility(False)
        if handler is None:
            self.status.set_text("no handler yet")
        else:
            self.status.set_text(
                f"version {handler.version} · {handler.kind} · {handler.mode} · saved {clock(handler.updated_at)}"
            )

    def offer_reload(self, text: str, reload: Callable[[], Any]) -> None:
        self.banner.clear()
        with self.banner:
            ui.icon("info", color="orange-9")
            ui.label(text).classes("text-sm grow")
            ui.button("Reload", on_click=reload).props("flat dense no-caps").mark("reload-handler")
        self.banner.set_visibility(True)

    def _show_mode(self) -> None:
        self.mode.props(f"toggle-color={color(self.mode.value)}")
        self.mode_hint.set_text(MODE_HINTS[self.mode.value] + " Applies on Save.")
