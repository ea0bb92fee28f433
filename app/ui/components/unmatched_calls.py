"""A rules handler's unmatched calls in its editor: each call no rule matched, with the nearest rule's diff (every
condition with a tick or a cross and why it missed), and *New rule from this call*, which adds a rule for those
arguments to the editor and opens it for editing; Save makes it answer (``app.services.unmatched``).
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable

from nicegui import ui

from app.errors import TooldeskError
from app.models import UnmatchedCallPublic
from app.runtime import get_runtime
from app.services import unmatched
from app.services.unmatched import UNMATCHED_KEPT
from app.states import Role
from app.ui import access
from app.ui.format import browser_id, stamp

SHOWN = 20
"""Calls drawn at first; *Show all* draws the rest of the kept ones."""

ARGUMENTS_SHOWN = 300
"""Characters of a call's arguments drawn in the list."""

NewRule = Callable[[UnmatchedCallPublic], Awaitable[None]]


class UnmatchedCalls:
    """The list of handler ``handler_id``'s unmatched calls; ``new_rule`` adds a rule for one to the editor."""

    def __init__(self, handler_id: int, *, new_rule: NewRule) -> None:
        self.handler_id = handler_id
        self._new_rule = new_rule
        self.calls: list[UnmatchedCallPublic] = []
        self.mark: tuple[int, int] | None = None
        self.show_all = False
        with ui.card().classes("w-full gap-2").props("flat bordered").mark("unmatched") as self.card:
            with ui.row().classes("w-full items-center gap-2 no-wrap"):
                ui.icon("call_missed", color="warning").classes("text-xl")
                self.title = ui.label("Unmatched calls").classes("text-lg font-bold")
                ui.label(f"calls no rule matched, newest first (the newest {UNMATCHED_KEPT} are kept)").classes(
                    "text-sm text-grey-7 grow"
                )
                self.clear_button = (
                    ui.button("Clear", icon="clear_all", on_click=access.guarded(Role.ADMIN, self.clear))
                    .props("flat dense no-caps size=sm")
                    .mark("unmatched-clear")
                )
            self.box = ui.column().classes("w-full gap-2")
        ui.timer(0, self.check, once=True)

    async def check(self) -> None:
        """Redraw when calls were kept or cleared since the last look (one small query otherwise)."""
        engine, handler_id = get_runtime().engine, self.handler_id
        mark = await asyncio.to_thread(lambda: unmatched.unmatched_mark(engine=engine, handler_id=handler_id))
        if mark != self.mark:
            self.mark = mark
            await self.reload()

    async def reload(self) -> None:
        engine, handler_id = get_runtime().engine, self.handler_id
        try:
            self.calls = await asyncio.to_thread(lambda: unmatched.list_unmatched(engine=engine, handler_id=handler_id))
        except TooldeskError:
            self.calls = []  # the handler was deleted meanwhile: the editor says so
        self.render()

    def render(self) -> None:
        self.title.set_text(f"Unmatched calls · {len(self.calls)}" if self.calls else "Unmatched calls")
        self.clear_button.set_visibility(bool(self.calls) and access.may(Role.ADMIN))
        self.box.clear()
        with self.box:
            if not self.calls:
                ui.label("None: every call so far matched a rule.").classes("text-grey-6 italic")
            for call in self.calls if self.show_all else self.calls[:SHOWN]:
                self._call_row(call)
            if len(self.calls) > SHOWN and not self.show_all:
                ui.button(f"Show all {len(self.calls)}", on_click=self._show_all).props("flat dense no-caps").mark(
                    "unmatched-show-all"
                )

    def _call_row(self, call: UnmatchedCallPublic) -> None:
        with ui.column().classes("w-full gap-1 py-2 border-b border-gray-200").mark(f"unmatched-{call.id}"):
            with ui.row().classes("w-full items-center gap-2 no-wrap"):
                ui.link(f"Run {browser_id(call.task_id)}", f"/runs/{browser_id(call.task_id)}").classes("font-bold")
                ui.label(f"round {call.round} · {call.tool_call_id} · {stamp(call.at)}").classes(
                    "text-sm text-grey-7 grow ellipsis"
                )
                if call.by_default:
                    ui.badge("answered by the default", color="grey").props("outline")
                else:
                    ui.badge("error result", color="negative").props("outline").tooltip(call.output)
                button = ui.button(
                    "New rule from this call", icon="add", on_click=access.guarded(Role.ADMIN, lambda: self._new(call))
                ).props("outline dense no-caps size=sm")
                button.mark(f"unmatched-{call.id}-new-rule").set_visibility(access.may(Role.ADMIN))
                if call.arguments is None:
                    button.disable()
                    button.tooltip("its arguments were not kept: add a default or an `any` rule instead")
            ui.label(_arguments_text(call)).classes("font-mono text-sm whitespace-pre-wrap break-all")
            _nearest(call)

    async def _new(self, call: UnmatchedCallPublic) -> None:
        await self._new_rule(call)

    async def clear(self) -> None:
        engine, handler_id = get_runtime().engine, self.handler_id
        try:
            count = await asyncio.to_thread(lambda: unmatched.clear_unmatched(engine=engine, handler_id=handler_id))
        except TooldeskError as exc:
            ui.notify(f"Not cleared: {exc.message}", type="negative")
            return
        ui.notify(f"{count} unmatched call(s) cleared", type="positive")
        await self.check()

    def _show_all(self) -> None:
        self.show_all = True
        self.render()


def _arguments_text(call: UnmatchedCallPublic) -> str:
    if call.arguments is None:
        return f"arguments {call.arguments_problem}"
    text = json.dumps(call.arguments, ensure_ascii=False)
    return text if len(text) <= ARGUMENTS_SHOWN else f"{text[:ARGUMENTS_SHOWN]}… ({len(text):,} characters)"


def _nearest(call: UnmatchedCallPublic) -> None:
    """The nearest rule and each of its conditions: a tick for a match, a cross with what differs."""
    near = call.nearest
    if near is None:
        reason = "the arguments did not parse" if call.arguments is None else "no rule is on"
        ui.label(f"No nearest rule: {reason}.").classes("text-sm text-grey-7")
        return
    ui.label(f"Nearest: {near['label']}, {near['matched']} of {near['total']} conditions match").classes(
        "text-sm font-medium"
    )
    for check in near.get("checks") or []:
        with ui.row().classes("items-center gap-1 no-wrap pl-4"):
            if check["matched"]:
                ui.icon("check", color="positive").classes("text-base")
            else:
                ui.icon("close", color="negative").classes("text-base")
            ui.label(str(check["text"])).classes(
                "text-sm font-mono " + ("text-grey-7" if check["matched"] else "text-negative")
            )
