"""Handlers: mock any tool without a backend. Per agent and tool, a handler answers calls by itself (*auto*),
pre-fills an answer for a person to approve (*suggest*), or is off (*manual*).

Left, every synced agent with its tools, each with its handler's kind, version and a
mode toggle that saves at once; right, the editor of the tool picked
(``app.ui.components.handler_editor``).
"""

from __future__ import annotations

import asyncio
import re
from typing import Any

from nicegui import ui
from nicegui.events import ValueChangeEventArguments

from app.errors import TooldeskError
from app.models import Agent, HandlerPublic
from app.runtime import get_runtime
from app.services import agents, handler_store
from app.services.handler_store import PastCall
from app.states import HandlerMode, Role
from app.ui import access
from app.ui.components.config_buttons import config_buttons, python_export_link
from app.ui.components.handler_editor import HandlerEditor, ToolTarget
from app.ui.components.handler_header import MODES
from app.ui.live import Live
from app.ui.looks import color

PAST_CALLS = 10
TOOLS_SHOWN = 100
"""Tools of an agent listed at first, and added by each *Show more*: an agent may list thousands (an imported
configuration, a platform's agent), and every row is built on the event loop that answers the webhook (20,000
tools held it about 30 s a visit). A tool with a handler, or the one open, is listed whatever its place."""


def page(live: Live) -> None:
    ui.page_title("Handlers · Tooldesk")
    _HandlersPage(live)


def marker(name: str) -> str:
    """A name as one marker word (``mark()`` splits on whitespace): "Trip planner" -> "Trip_planner"."""
    return re.sub(r"\s+", "_", name.strip())


class _HandlersPage:
    def __init__(self, live: Live) -> None:
        self.agents: list[Agent] = []
        self.handlers: dict[tuple[str, str], HandlerPublic] = {}
        self.selected: tuple[Agent, dict[str, Any]] | None = None
        self.editor: HandlerEditor | None = None
        self.shown: dict[str, int] = {}  # agent_id -> tools listed (TOOLS_SHOWN until Show more)
        ui.label("Handlers").classes("text-2xl font-bold")
        ui.label(
            "Mock any tool without writing a backend: per agent and tool, a handler answers calls by itself (auto), "
            "pre-fills the Inbox for a person to approve (suggest), or stays off (manual)."
        ).classes("text-grey-7")
        config_buttons()
        with ui.row().classes("w-full items-start gap-4 no-wrap"):
            self.list_box = ui.column().classes("w-80 shrink-0 gap-3").mark("handler-list")
            self.editor_box = ui.column().classes("grow min-w-0 gap-4")
        with self.editor_box, ui.card().classes("w-full items-center py-10").props("flat bordered"):
            ui.icon("build", color="grey-5").classes("text-5xl")
            ui.label("Pick a tool on the left to set up its handler.").classes("text-grey-7").mark("handler-empty")
        live.listen(self.refresh)
        ui.timer(0, self.refresh, once=True)

    async def refresh(self, task_id: int = 0) -> None:
        """Reload agents and handlers (on ``task_id`` 0: agent or handler changes); a run's change may only have
        added an unmatched call to the open editor's list."""
        if self.editor is not None:
            await self.editor.check_unmatched()
        if task_id:
            return
        engine = get_runtime().engine
        known, saved = await asyncio.to_thread(
            lambda: (agents.list_agents(engine=engine), handler_store.list_handlers(engine=engine))
        )
        if self.list_box.is_deleted:  # the person went to another page while this read
            return
        self.agents = known
        self.handlers = {(h.agent_id, h.tool_name): h for h in saved}
        self._render_list()
        if self.editor is not None and self.selected is not None:
            agent, tool = self.selected
            self.editor.notice(self.handlers.get((agent.agent_id, tool["name"])))

    async def open(self, agent: Agent, tool: dict[str, Any], mode: str | None = None) -> None:
        """Show the editor of one tool, loaded fresh from the database."""
        engine, name = get_runtime().engine, tool["name"]

        def load() -> tuple[HandlerPublic | None, list[handler_store.VersionPublic], list[PastCall]]:
            current = next(
                (h for h in handler_store.list_handlers(engine=engine, agent_id=agent.agent_id) if h.tool_name == name),
                None,
            )
            versions = handler_store.list_versions(engine=engine, handler_id=current.id) if current else []
            return (
                current,
                versions,
                handler_store.list_past_calls(engine=engine, agent_id=agent.agent_id, tool_name=name),
            )

        current, versions, past = await asyncio.to_thread(load)
        if self.editor_box.is_deleted:  # the person went to another page while this read
            return
        if current is not None:
            self.handlers[(agent.agent_id, name)] = current
        self.selected = (agent, tool)
        target = ToolTarget(
            agent_id=agent.agent_id,
            agent_name=agent.name,
            tool_name=name,
            description=str(tool.get("description") or ""),
            parameters=tool.get("parameters") or {},
        )
        self.editor_box.clear()
        with self.editor_box:
            self.editor = HandlerEditor(
                target, handler=current, versions=versions, past_calls=past, mode=mode, on_change=self._changed
            )
        self._render_list()

    async def _changed(self, reopen: bool) -> None:
        await self.refresh()
        if reopen and self.selected is not None:
            await self.open(*self.selected)

    def _render_list(self) -> None:
        self.list_box.clear()
        with self.list_box:
            if not self.agents:
                ui.label("No agents yet: the platform's agents are listed at start (see Agents).").classes(
                    "text-grey-6 italic"
                )
            for agent in self.agents:
                with (
                    ui.card()
                    .classes("w-full gap-1 p-3")
                    .props("flat bordered")
                    .mark(f"handler-agent-{marker(agent.name)}")
                ):
                    with ui.row().classes("w-full items-center"):
                        ui.label(agent.name).classes("font-bold")
                        ui.space()
                        if any(agent_id == agent.agent_id for agent_id, _tool in self.handlers):
                            python_export_link(agent.agent_id, agent.name)
                    if not agent.tools:
                        ui.label("no tools").classes("text-sm text-grey-6 italic")
                    listed = self._listed(agent)
                    for tool in listed:
                        self._tool_row(agent, tool)
                    hidden = len(agent.tools) - len(listed)
                    if hidden > 0:
                        ui.button(
                            f"Show more ({min(TOOLS_SHOWN, hidden):,} of {hidden:,} more tools)",
                            on_click=lambda _e, agent=agent: self._show_more(agent),
                        ).props("flat dense no-caps size=sm").mark(f"more-tools-{marker(agent.name)}")

    def _listed(self, agent: Agent) -> list[dict[str, Any]]:
        """The agent's first ``shown`` tools, and beyond them those with a handler and the one open."""
        limit = self.shown.get(agent.agent_id, TOOLS_SHOWN)
        chosen = self.selected[1]["name"] if self.selected and self.selected[0].agent_id == agent.agent_id else None
        return [
            tool
            for index, tool in enumerate(agent.tools)
            if index < limit or (agent.agent_id, tool["name"]) in self.handlers or tool["name"] == chosen
        ]

    def _show_more(self, agent: Agent) -> None:
        self.shown[agent.agent_id] = self.shown.get(agent.agent_id, TOOLS_SHOWN) + TOOLS_SHOWN
        self._render_list()

    def _tool_row(self, agent: Agent, tool: dict[str, Any]) -> None:
        name = tool["name"]
        handler = self.handlers.get((agent.agent_id, name))
        chosen = self.selected is not None and (self.selected[0].agent_id, self.selected[1]["name"]) == (
            agent.agent_id,
            name,
        )
        words = f"{marker(agent.name)}-{marker(name)}"
        with ui.column().classes("w-full gap-1 rounded px-2 py-1 " + ("bg-blue-1" if chosen else "hover:bg-grey-2")):
            with (
                ui.row()
                .classes("w-full items-center gap-2 no-wrap cursor-pointer")
                .on("click", lambda: self.open(agent, tool))
                .mark(f"tool-{words}")
            ):
                ui.label(name).classes("font-mono text-sm grow ellipsis").tooltip(str(tool.get("description") or ""))
                if handler is not None:
                    ui.badge(f"{handler.kind} · v{handler.version}", color=color(handler.kind)).props("outline").mark(
                        f"handler-{words}"
                    )
                else:
                    ui.label("no handler").classes("text-xs text-grey-6")
                ui.icon("chevron_right", color="grey-6")
            mode = handler.mode if handler is not None else HandlerMode.MANUAL
            ui.toggle(
                MODES, value=mode, on_change=access.guarded(Role.ADMIN, lambda e: self._switch(e, agent, tool))
            ).props(f"dense no-caps size=sm unelevated toggle-color={color(mode)}").mark(f"mode-{words}")

    async def _switch(self, event: ValueChangeEventArguments[Any], agent: Agent, tool: dict[str, Any]) -> None:
        """A mode toggle in the list: save at once, or open the editor when the tool has no handler yet."""
        key = (agent.agent_id, tool["name"])
        handler = self.handlers.get(key)
        current = handler.mode if handler is not None else HandlerMode.MANUAL
        if event.value == current:
            return
        if handler is None:
            event.sender.set_value(HandlerMode.MANUAL)  # type: ignore[attr-defined]
            ui.notify(
                f"{tool['name']} has no handler yet: set up how it answers, then Save (mode {event.value} is chosen)",
                type="info",
            )
            await self.open(agent, tool, mode=event.value)
            return
        engine = get_runtime().engine
        try:
            saved = await asyncio.to_thread(
                lambda: handler_store.set_mode(engine=engine, handler_id=handler.id, mode=event.value)
            )
        except TooldeskError as exc:
            ui.notify(f"Mode not changed: {exc.message}", type="negative", multi_line=True)
            event.sender.set_value(current)  # type: ignore[attr-defined]
            return
        self.handlers[key] = saved
        ui.notify(f"{agent.name} · {tool['name']}: {saved.mode} (version {saved.version})", type="positive")
        if (
            self.editor is not None
            and self.selected is not None
            and (self.selected[0].agent_id, self.selected[1]["name"]) == key
        ):
            await self.editor.adopt(saved)
        self._render_list()
        get_runtime().handlers_changed()
