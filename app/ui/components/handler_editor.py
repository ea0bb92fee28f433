"""The handler editor for one (agent, tool): kind and its settings, latency and failures, mode; Save (or
Ctrl/⌘+S), Test on sample arguments, the saved versions with Restore, and Delete.

Each kind keeps its own draft while the person switches between them; only the kind
on screen is saved. Problems (a bad regex, a template or Python syntax error) show in
red above the Save button, in the service's words, which name the rule, field and line.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from nicegui import ui

from app.errors import TooldeskError
from app.models import HandlerPublic, UnmatchedCallPublic
from app.runtime import get_runtime
from app.services import handler_store, unmatched
from app.services.handler_store import HandlerIn, PastCall, VersionPublic
from app.services.handler_test import HandlerTestOutcome, run_handler_test
from app.states import HandlerKind, HandlerMode, Role
from app.ui import access
from app.ui.components.handler_behaviour import BehaviourFields
from app.ui.components.handler_header import HandlerHeader
from app.ui.components.handler_python import PythonFields
from app.ui.components.handler_rule_steps import reset_counts_button
from app.ui.components.handler_rules import DraftProblem, RulesEditor
from app.ui.components.handler_static import StaticFields
from app.ui.components.handler_test import HandlerTestPanel
from app.ui.components.handler_versions import versions_card
from app.ui.components.unmatched_calls import UnmatchedCalls

KIND_HINTS = {
    HandlerKind.STATIC: "The same answer to every call, sent as is.",
    HandlerKind.RULES: "Rules tried in order: the first whose conditions all match the arguments answers.",
    HandlerKind.PYTHON: "Your code answers each call, in a separate sandboxed process.",
}


@dataclass(frozen=True)
class ToolTarget:
    """The tool being mocked: its agent, name, description and JSON Schema ``parameters``."""

    agent_id: str
    agent_name: str
    tool_name: str
    description: str = ""
    parameters: dict[str, Any] = field(default_factory=dict)


Reload = Callable[[bool], Awaitable[None]]
"""The page's callback after a change: refresh the tool list, and rebuild this editor when given True."""


class HandlerEditor:
    """Edits the handler of ``target`` (``handler`` is ``None`` for a tool without one)."""

    def __init__(
        self,
        target: ToolTarget,
        *,
        handler: HandlerPublic | None,
        versions: list[VersionPublic],
        past_calls: list[PastCall],
        mode: str | None = None,
        on_change: Reload,
    ) -> None:
        self.target = target
        self.handler = handler
        self._on_change = on_change
        self.unmatched: UnmatchedCalls | None = None
        self.from_calls: list[dict[str, Any]] = []  # arguments of the unmatched calls rules were added for
        self.from_notes: list[str] = []  # and the version notes of those rules, as the API writes them
        spec: dict[str, Any] = handler.spec if handler else {}
        kind = handler.kind if handler else HandlerKind.STATIC
        with ui.column().classes("w-full gap-4").mark("handler-editor") as self.root:
            self.root.on("keydown.ctrl.s.prevent", access.guarded(Role.ADMIN, self.save))
            self.root.on("keydown.meta.s.prevent", access.guarded(Role.ADMIN, self.save))
            self.header = HandlerHeader(
                agent_name=target.agent_name,
                tool_name=target.tool_name,
                description=target.description,
                kind=kind,
                mode=mode or (handler.mode if handler else HandlerMode.MANUAL),
                on_kind=self._show_kind,
            )
            self.kind, self.mode = self.header.kind, self.header.mode
            with ui.card().classes("w-full gap-3").props("flat bordered"):
                self.kind_hint = ui.label().classes("text-sm text-grey-7")
                with ui.column().classes("w-full gap-2") as self.static_panel:
                    self.static = StaticFields(spec if kind == HandlerKind.STATIC else {})
                with ui.column().classes("w-full gap-2") as self.rules_panel:
                    if handler is not None and handler.kind == HandlerKind.RULES:
                        self.unmatched = UnmatchedCalls(handler.id, new_rule=self._rule_from_call)
                    self.rules = RulesEditor(spec if kind == HandlerKind.RULES else None)
                    reset_counts_button(handler)
                with ui.column().classes("w-full gap-2") as self.python_panel:
                    self.python = PythonFields(spec if kind == HandlerKind.PYTHON else {})
                self.behaviour = BehaviourFields(handler.behaviour if handler else {})
            self._actions()
            HandlerTestPanel(schema=target.parameters, past_calls=past_calls, run=self._test)
            self.versions_box = ui.column().classes("w-full")
        self.header.show(handler)
        self._show_kind()
        self._render_versions(versions)

    # ---- layout -------------------------------------------------------------------------------------------------

    def _actions(self) -> None:
        with ui.column().classes("w-full gap-2"):
            self.problem = (
                ui.label()
                .classes("w-full text-negative whitespace-pre-wrap bg-red-1 rounded px-3 py-2")
                .mark("editor-problem")
            )
            self.problem.set_visibility(False)
            with ui.row().classes("w-full items-center gap-3 no-wrap"):
                ui.button("Save", icon="save", on_click=access.guarded(Role.ADMIN, self.save)).props(
                    "unelevated"
                ).tooltip("Ctrl+S (⌘S) anywhere in the editor").mark("save-handler").set_visibility(
                    access.may(Role.ADMIN)
                )
                self.note = (
                    ui.input(placeholder="note for this version (optional)")
                    .props("dense outlined maxlength=500")
                    .classes("grow")
                    .mark("handler-note")
                )
                self.delete_button = (
                    ui.button("Delete", icon="delete", on_click=access.guarded(Role.ADMIN, self.delete))
                    .props("flat no-caps color=negative")
                    .mark("delete-handler")
                )
                self.delete_button.set_visibility(self.handler is not None and access.may(Role.ADMIN))

    def _render_versions(self, versions: list[VersionPublic]) -> None:
        self.versions_box.clear()
        with self.versions_box:
            versions_card(versions, current=self.handler.version if self.handler else None, restore=self.restore)

    def _show_kind(self) -> None:
        kind = self.kind.value
        panels = (
            (HandlerKind.STATIC, self.static_panel),
            (HandlerKind.RULES, self.rules_panel),
            (HandlerKind.PYTHON, self.python_panel),
        )
        for name, panel in panels:
            panel.set_visibility(name == kind)
        self.kind_hint.set_text(KIND_HINTS[kind])

    def show_problem(self, message: str | None) -> None:
        """Show a problem in red above Save (``None`` hides it); outline named rules, mark named code lines."""
        self.problem.set_text(message or "")
        self.problem.set_visibility(bool(message))
        self.rules.flag(message if self.kind.value == HandlerKind.RULES else None)
        self.python.flag(message if self.kind.value == HandlerKind.PYTHON else None)

    # ---- actions ------------------------------------------------------------------------------------------------

    def draft(self) -> HandlerIn | None:
        """The editor's current settings as a ``HandlerIn``, or ``None`` after showing why they cannot be."""
        kind = self.kind.value
        try:
            if kind == HandlerKind.STATIC:
                spec = self.static.spec()
            elif kind == HandlerKind.RULES:
                spec = self.rules.spec()
            else:
                spec = self.python.spec()
        except DraftProblem as exc:
            self.show_problem(str(exc))
            return None
        return HandlerIn(
            agent_id=self.target.agent_id,
            tool_name=self.target.tool_name,
            kind=kind,
            mode=self.mode.value,
            spec=spec,
            behaviour=self.behaviour.value(),
            note="; ".join(filter(None, [(self.note.value or "").strip(), *self._added_notes(kind)]))[:500],
        )

    def _added_notes(self, kind: str) -> list[str]:
        return self.from_notes if kind == HandlerKind.RULES else []

    async def save(self) -> None:
        draft = self.draft()
        if draft is None:
            return
        engine = get_runtime().engine
        try:
            saved = await asyncio.to_thread(lambda: handler_store.save_handler(engine=engine, handler=draft))
        except TooldeskError as exc:
            self.show_problem(exc.message)
            return
        self.show_problem(None)
        self.note.set_value("")
        ui.notify(f"{self.target.tool_name}: saved as version {saved.version}", type="positive")
        if self.from_calls and saved.kind == HandlerKind.RULES:  # their rules are saved: they are dealt with
            calls, self.from_calls, self.from_notes = self.from_calls, [], []
            await asyncio.to_thread(
                lambda: unmatched.forget_unmatched(engine=engine, handler_id=saved.id, arguments=calls)
            )
        await self.check_unmatched()
        await self.adopt(saved)
        await self._announce(reopen=False)

    async def adopt(self, saved: HandlerPublic) -> None:
        """Take ``saved`` as the current handler (after a save here or a mode switch in the list)."""
        self.handler = saved
        self.mode.set_value(saved.mode)
        self.header.show(saved)
        self.delete_button.set_visibility(True)
        engine = get_runtime().engine
        versions = await asyncio.to_thread(lambda: handler_store.list_versions(engine=engine, handler_id=saved.id))
        self._render_versions(versions)

    async def check_unmatched(self) -> None:
        """Redraw the unmatched calls when some were kept or cleared (after any run's change)."""
        if self.unmatched is not None:
            await self.unmatched.check()

    async def _rule_from_call(self, call: UnmatchedCallPublic) -> None:
        """*New rule from this call*: a rule for its arguments, added to the rules and opened for its answer."""
        engine, handler_id = get_runtime().engine, call.handler_id
        try:
            rule = await asyncio.to_thread(
                lambda: unmatched.rule_for_unmatched(engine=engine, handler_id=handler_id, unmatched_id=call.id)
            )
        except TooldeskError as exc:
            ui.notify(f"No rule added: {exc.message}", type="negative", multi_line=True)
            return
        self.rules.add_rule(rule.model_dump(mode="json"))
        self.from_calls.append(call.arguments or {})
        self.from_notes.append(unmatched.added_rule_note(rule.name, task_id=call.task_id, round_=call.round))
        ui.notify(f"Rule {len(self.rules.rules)} added for run {call.task_id}'s call: write its answer, then Save")

    def notice(self, current: HandlerPublic | None) -> None:
        """Offer to reload when another tab saved or deleted this handler."""
        mine = (self.handler.id, self.handler.version) if self.handler else None
        theirs = (current.id, current.version) if current else None
        if mine == theirs or (
            mine and theirs and mine[0] == theirs[0] and theirs[1] < mine[1]
        ):  # same, or a stale read
            return
        text = f"Version {current.version} was saved elsewhere." if current else "This handler was deleted elsewhere."
        self.header.offer_reload(text + " Your edits here are not saved.", lambda: self._on_change(True))

    async def restore(self, version: int) -> None:
        if self.handler is None:
            return
        engine, handler_id = get_runtime().engine, self.handler.id
        try:
            saved = await asyncio.to_thread(
                lambda: handler_store.restore_version(engine=engine, handler_id=handler_id, version=version)
            )
        except TooldeskError as exc:
            ui.notify(f"Not restored: {exc.message}", type="negative", multi_line=True)
            return
        ui.notify(f"Version {version} restored as version {saved.version}", type="positive")
        await self._announce(reopen=True)

    async def delete(self) -> None:
        if self.handler is None:
            return
        with ui.dialog() as dialog, ui.card():
            ui.label(f"Delete the handler of {self.target.tool_name}?").classes("text-lg font-bold")
            ui.label(
                f"Its {self.handler.version} version(s) go too, and a person answers its calls in the Inbox again."
            )
            with ui.row().classes("w-full justify-end"):
                ui.button("Cancel", on_click=lambda: dialog.submit(False)).props("flat")
                ui.button("Delete", color="negative", on_click=lambda: dialog.submit(True)).mark("confirm-delete")
        confirmed = await dialog
        dialog.delete()
        if not confirmed:
            return
        engine, handler_id = get_runtime().engine, self.handler.id
        try:
            await asyncio.to_thread(lambda: handler_store.delete_handler(engine=engine, handler_id=handler_id))
        except TooldeskError as exc:
            ui.notify(f"Not deleted: {exc.message}", type="negative", multi_line=True)
            return
        ui.notify(f"Handler of {self.target.tool_name} deleted", type="positive")
        await self._announce(reopen=True)

    async def _announce(self, *, reopen: bool) -> None:
        """Refresh this page, tell other tabs, and let handlers answer pending rounds they now cover."""
        await self._on_change(reopen)
        get_runtime().handlers_changed()

    async def _test(self, args: dict[str, Any], call_count: int, state: dict[str, Any]) -> HandlerTestOutcome | None:
        draft = self.draft()
        if draft is None:
            return None
        try:
            outcome = await run_handler_test(
                handler=draft, args=args, sandbox=get_runtime().sandbox, call_count=call_count, state=state
            )
        except TooldeskError as exc:
            self.show_problem(exc.message)
            return None
        self.show_problem(None)
        return outcome
