"""A pending round as a form: each tool call with its arguments, a result field and an is_error switch.

Calls are told apart by ``tool_call_id`` and arguments (case C07: the same tool
twice), and each result goes to its own id. Submit refuses while a result is
empty and names the call; the platform's refusal is shown in words.
"""

import json
from collections.abc import Callable
from typing import Literal

from nicegui import ui

from app.answerers import INBOX_USER, Answerer
from app.errors import PlatformError, TooldeskError
from app.models import DraftPublic, RoundPublic, ToolCallPublic
from app.protocol import ToolResult
from app.runtime import get_runtime
from app.services.rounds import leaves_round_pending, submit_round
from app.states import DraftMode, Role, RoundState, Via
from app.ui import access
from app.ui.components.arguments import arguments_view
from app.ui.format import JsonProblem, clock, expiry, parse_json

ANSWERED_BY = Answerer.person(INBOX_USER)
"""Who answers in the inbox when sign-in is off."""


def signed_in_person() -> Answerer:
    """The person answering in this tab: the signed-in user, or ``console`` when sign-in is off."""
    identity = access.current()
    return Answerer.person(identity.name) if identity is not None and identity.via == Via.SESSION else ANSWERED_BY


MAX_RESULT_CHARS = 200_000
"""Browser messages over about 1 MB are dropped (NiceGUI), so a result field stops at this many characters."""


class CallField:
    """The inputs for one tool call: output text, text-or-JSON mode, is_error."""

    def __init__(self, call: ToolCallPublic) -> None:
        self.call = call
        self.draft: DraftPublic | None = None
        with ui.card().classes("w-full bg-grey-1").props("flat bordered").mark(f"call-{call.tool_call_id}"):
            with ui.row().classes("items-center gap-2 w-full"):
                ui.badge(call.tool_call_id, color="grey-7").props("outline")
                ui.label(call.name).classes("font-mono font-bold")
                ui.space()
                self.draft_badge = ui.badge("", color="teal").mark(f"draft-{call.tool_call_id}")
                self.draft_badge.set_visibility(False)
            with ui.element("div").classes("w-full grid grid-cols-1 md:grid-cols-2 gap-3"):
                arguments_view(call)
                with ui.column().classes("w-full gap-1"):
                    self.output = (
                        ui.textarea("Result", placeholder="what the tool returns")
                        .props(f"outlined autogrow stack-label input-class=font-mono maxlength={MAX_RESULT_CHARS}")
                        .tooltip(f"up to {MAX_RESULT_CHARS:,} characters (the browser's message limit)")
                        .classes("w-full")
                        .mark(f"result-{call.tool_call_id}")
                    )
                    with ui.row().classes("items-center gap-4"):
                        self.mode = (
                            ui.toggle(["text", "JSON"], value="text")
                            .props("dense no-caps size=sm")
                            .mark(f"mode-{call.tool_call_id}")
                        )
                        self.is_error = ui.switch("is_error (the tool failed)").mark(f"is-error-{call.tool_call_id}")
                    self.draft_note = ui.label("").classes("text-xs text-grey-7 whitespace-pre-wrap")
                    self.draft_note.set_visibility(False)

    def offer(self, draft: DraftPublic) -> None:
        """Pre-fill a handler's answer once, unless the person has typed something already."""
        if self.draft is not None or (self.output.value or "").strip():
            return
        self.draft = draft
        self.output.set_value(draft.output)
        self.is_error.set_value(draft.is_error)
        verb = "answered" if draft.mode == DraftMode.AUTO else "suggested"
        self.draft_badge.set_text(f"{verb} by {draft.answered_by} · {draft.duration_ms:.0f} ms")
        self.draft_badge.set_visibility(True)
        details = [part for part in (draft.note, draft.logs) if part]
        self.draft_note.set_text("\n".join(details))
        self.draft_note.set_visibility(bool(details))

    def source(self) -> Answerer:
        """Who answered: the handler while its draft is unchanged, else the person."""
        draft = self.draft
        if draft is not None and self.output.value == draft.output and bool(self.is_error.value) == draft.is_error:
            return draft.answerer()
        return signed_in_person()

    def problem(self) -> str | None:
        """Why this call cannot be sent yet, or ``None``."""
        text = self.output.value or ""
        if not text.strip():
            return f"{self.call.tool_call_id} ({self.call.name}) has no result"
        if self.mode.value == "JSON":
            try:
                parse_json(text)
            except JsonProblem as exc:
                return f"{self.call.tool_call_id}: result is not JSON ({exc})"
        return None

    def result(self) -> ToolResult:
        text = self.output.value or ""
        if self.mode.value == "JSON":
            text = json.dumps(parse_json(text), ensure_ascii=False)
        return ToolResult(tool_call_id=self.call.tool_call_id, output=text, is_error=bool(self.is_error.value))


class RoundForm:
    """One card per pending round; ``on_done(round_id)`` runs once the platform accepted it."""

    def __init__(self, round_: RoundPublic, *, agent_name: str, on_done: Callable[[int], None]) -> None:
        self.round = round_
        self.on_done = on_done
        self.sticky = False
        with ui.card().classes("w-full").mark(f"round-{round_.id}") as self.card:
            with ui.row().classes("w-full items-center gap-3"):
                ui.label(f"{agent_name} · run {round_.task_id} · round {round_.round}").classes("text-base font-bold")
                ui.space()
                ui.label(f"opened {clock(round_.opened_at)}").classes("text-xs text-grey-7")
                if round_.expires_at:
                    ui.label(f"expires {expiry(round_.expires_at)}").classes("text-xs text-grey-7").tooltip(
                        round_.expires_at
                    )
                ui.link("run", f"/runs/{round_.task_id}").classes("text-xs")
            self.fields = [CallField(call) for call in round_.tool_calls]
            self.offer_drafts(round_)
            self.problem = ui.label(round_.message).classes("text-negative text-sm").mark(f"problem-{round_.id}")
            self.problem.set_visibility(bool(round_.message))
            self.submit = ui.button(
                f"Submit {len(self.fields)} result(s)", icon="send", on_click=access.guarded(Role.ANSWERER, self.send)
            ).mark(f"submit-{round_.id}")
            if not access.may(Role.ANSWERER):
                self.submit.disable()
                self.submit.tooltip(f"answering needs the role {Role.ANSWERER}")

    def offer_drafts(self, round_: RoundPublic) -> None:
        """Pre-fill the calls that a handler answered since the card was drawn."""
        by_call = {draft.tool_call_id: draft for draft in round_.drafts}
        for field in self.fields:
            draft = by_call.get(field.call.tool_call_id)
            if draft is not None:
                field.offer(draft)

    async def send(self) -> None:
        problems = [p for p in (field.problem() for field in self.fields) if p]
        if problems:
            self._show("Not sent: " + "; ".join(problems))
            return
        runtime = get_runtime()
        self.submit.props("loading")
        try:
            sent = await submit_round(
                engine=runtime.engine,
                outbox=runtime.outbox,
                round_id=self.round.id,
                results=[field.result() for field in self.fields],
                answered_by=signed_in_person(),
                sources={field.call.tool_call_id: field.source() for field in self.fields},
            )
        except TooldeskError as exc:
            said = f"platform answered {exc.status} {exc.code}: " if isinstance(exc, PlatformError) else ""
            self._show(f"Not accepted: {said}{exc.message}")
            if not leaves_round_pending(exc):  # keep the card and its reason on screen until dismissed
                self._keep()
            runtime.round_answered(self.round.task_id)
            return
        finally:
            self.submit.props(remove="loading")
        if sent.state == RoundState.SUBMITTING:
            self._show(
                f"Stored, not yet accepted: {sent.message}. The outbox keeps trying; the run page follows it.",
                kind="warning",
            )
            self._keep()
        else:
            ui.notify(f"Round {self.round.round} of run {self.round.task_id} sent", type="positive")
            self.on_done(self.round.id)
        runtime.round_answered(self.round.task_id)

    def _keep(self) -> None:
        self.sticky = True
        self.submit.disable()
        with self.card:
            ui.button("Dismiss", icon="close", on_click=lambda: self.on_done(self.round.id)).props("flat").mark(
                f"dismiss-{self.round.id}"
            )

    def _show(self, message: str, kind: Literal["negative", "warning"] = "negative") -> None:
        self.problem.set_text(message)
        self.problem.set_visibility(True)
        ui.notify(message, type=kind, multi_line=True, close_button="OK", timeout=10000)
