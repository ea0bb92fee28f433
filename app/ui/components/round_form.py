"""A pending round as a form: each tool call with its arguments, a result field and an is_error switch.

Calls are told apart by ``tool_call_id`` and arguments (case C07: the same tool
twice), and each result goes to its own id. Submit refuses while a result is
empty and names the call; the platform's refusal is shown in words.

What a person types is their typed draft (``app.services.typed_drafts``): saved about a second after the last
keystroke and when a field loses focus, and filled back in when the card is drawn again. When the round leaves
the inbox without this tab sending it, a card with typed text stays and says who answered and when (case C15);
at ``expires_at`` Submit turns off (case C14). ``round_status`` draws that line.
"""

import asyncio
import json
from collections.abc import Callable
from typing import Literal

from nicegui import background_tasks, ui

from app.answerers import INBOX_USER, Answerer
from app.errors import PlatformError, TooldeskError
from app.models import DraftPublic, RoundPublic, ToolCallPublic
from app.protocol import ToolResult
from app.runtime import get_runtime
from app.services import typed_drafts
from app.services.inbox import RoundContext
from app.services.rounds import leaves_round_pending, submit_round
from app.services.typed_drafts import TypedField
from app.states import DraftMode, Role, RoundState, Via
from app.ui import access
from app.ui.components.arguments import arguments_view
from app.ui.components.draft_keeper import DraftKeeper
from app.ui.components.result_editor import MAX_RESULT_CHARS as MAX_RESULT_CHARS  # where it was defined before
from app.ui.components.result_editor import ResultEditor
from app.ui.components.round_actions import RoundActions
from app.ui.components.round_context import show_context
from app.ui.components.round_status import RoundStatus
from app.ui.format import JsonProblem, clock, parse_json

ANSWERED_BY = Answerer.person(INBOX_USER)
"""Who answers in the inbox when sign-in is off."""


def signed_in_person() -> Answerer:
    """The person answering in this tab: the signed-in user, or ``console`` when sign-in is off."""
    identity = access.current()
    return Answerer.person(identity.name) if identity is not None and identity.via == Via.SESSION else ANSWERED_BY


class CallField:
    """The inputs for one tool call: output text, text-or-JSON mode, is_error."""

    def __init__(self, call: ToolCallPublic, on_change: Callable[[], None], on_blur: Callable[[], object]) -> None:
        self.call = call
        self.draft: DraftPublic | None = None
        self.filling = False
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
                    self.editor = ResultEditor(call)  # the result field, checked while typing in JSON mode
                    self.output, self.mode = self.editor.output, self.editor.mode
                    with self.editor.controls:
                        self.is_error = ui.switch("is_error (the tool failed)").mark(f"is-error-{call.tool_call_id}")
                    self.draft_note = ui.label("").classes("text-xs text-grey-7 whitespace-pre-wrap")
                    self.draft_note.set_visibility(False)
        for element in (self.output, self.mode, self.is_error):
            element.on_value_change(lambda _: None if self.filling else on_change())
        self.output.on("blur", on_blur)

    def offer(self, draft: DraftPublic) -> None:
        """Pre-fill a handler's answer once, unless the person has typed something already."""
        if self.draft is not None or (self.output.value or "").strip():
            return
        self.draft = draft
        self._fill(output=draft.output, is_error=draft.is_error)
        verb = "answered" if draft.mode == DraftMode.AUTO else "suggested"
        self.draft_badge.set_text(f"{verb} by {draft.answered_by} · {draft.duration_ms:.0f} ms")
        self.draft_badge.set_visibility(True)
        details = [part for part in (draft.note, draft.logs) if part]
        self.draft_note.set_text("\n".join(details))
        self.draft_note.set_visibility(bool(details))

    def restore(self, typed: TypedField) -> None:
        """Fill in what this person typed earlier (over a handler's suggestion: it is their edit of it)."""
        if typed.output or typed.is_error:
            self._fill(output=typed.output, is_error=typed.is_error, mode="JSON" if typed.as_json else "text")

    def _fill(self, *, output: str, is_error: bool, mode: str | None = None) -> None:
        self.filling = True  # not the person typing: no typed draft is saved for it
        try:
            self.output.set_value(output)
            self.is_error.set_value(is_error)
            if mode is not None:
                self.mode.set_value(mode)
        finally:
            self.filling = False

    def typed(self) -> TypedField:
        """What the field holds now, as a typed draft."""
        return TypedField(
            tool_call_id=self.call.tool_call_id,
            output=self.output.value or "",
            as_json=self.mode.value == "JSON",
            is_error=bool(self.is_error.value),
        )

    def holds_typing(self) -> bool:
        """True when the field holds something of the person's own: text that is not a handler's unchanged one."""
        text = self.output.value or ""
        return bool(text.strip()) and (self.draft is None or text != self.draft.output)

    def lock(self) -> None:
        """Keep the text readable, but no longer editable."""
        self.output.props("readonly")
        self.mode.disable()
        self.is_error.disable()

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

    def __init__(
        self,
        round_: RoundPublic,
        *,
        agent_name: str,
        on_done: Callable[[int], None],
        context: RoundContext | None = None,
    ) -> None:
        self.round = round_
        self.on_done = on_done
        self.sticky = False
        self.closed = False  # the round left the inbox, or expired: nothing more is saved or sent
        self.sending = False
        self.person = signed_in_person().user or INBOX_USER
        self.keeper = DraftKeeper(round_.id, self.person, active=lambda: not self.closed and not self.sending)
        with ui.card().classes("w-full").mark(f"round-{round_.id}") as self.card:
            with ui.row().classes("w-full items-center gap-3"):
                ui.label(f"{agent_name} · run {round_.task_id} · round {round_.round}").classes("text-base font-bold")
                ui.space()
                ui.label(f"opened {clock(round_.opened_at)}").classes("text-xs text-grey-7")
                ui.link("run", f"/runs/{round_.task_id}").classes("text-xs")
                RoundActions(round_, on_left=self._left, answered_by=signed_in_person)  # Skip, Cancel run
            show_context(context, round_id=round_.id)  # the run's inputs and earlier rounds
            self.status = RoundStatus(
                round_.id, round_.expires_at, person=self.person, on_take_over=self.keeper.take_over
            )
            self.fields = [CallField(call, self.keeper.changed, self.keeper.blurred) for call in round_.tool_calls]
            self.offer_drafts(round_)
            self.problem = ui.label(round_.message).classes("text-negative text-sm").mark(f"problem-{round_.id}")
            self.problem.set_visibility(bool(round_.message))
            self.submit = ui.button(
                f"Submit {len(self.fields)} result(s)", icon="send", on_click=access.guarded(Role.ANSWERER, self.send)
            ).mark(f"submit-{round_.id}")
            if not access.may(Role.ANSWERER):
                self.submit.disable()
                self.submit.tooltip(f"answering needs the role {Role.ANSWERER}")
        if self.status.expired:  # drawn after its expires_at
            self._expired()
        self.keeper.fields = self.fields

    def tick(self, now: float) -> None:
        """Refresh the status line; at ``expires_at`` turn Submit off (case C14)."""
        if self.status.tick(now):
            self._expired()

    def _expired(self) -> None:
        self.submit.disable()
        self.problem.set_text("The round expired: the platform would refuse an answer (410). Your text stays here.")
        self.problem.set_visibility(True)

    async def should_leave(self) -> bool:
        """The round is no longer pending. True: the card can go (nothing of the person's own in it). Else the
        card stays, says who answered and when (or that it expired or closed), keeps the text and offers Dismiss."""
        if self.sending or self.sticky:
            return False
        if not any(field.holds_typing() for field in self.fields):
            return True
        engine, round_id = get_runtime().engine, self.round.id
        outcome = await asyncio.to_thread(lambda: typed_drafts.round_outcome(engine=engine, round_id=round_id))
        self.closed = True
        for field in self.fields:
            field.lock()
        self.status.finish(outcome)
        self._keep()
        return False

    def offer_drafts(self, round_: RoundPublic) -> None:
        """Pre-fill the calls that a handler answered since the card was drawn."""
        by_call = {draft.tool_call_id: draft for draft in round_.drafts}
        for field in self.fields:
            draft = by_call.get(field.call.tool_call_id)
            if draft is not None:
                field.offer(draft)

    async def send(self) -> None:
        if self.sending:  # a second Ctrl+Enter or click while the first submission is on its way
            return
        if self.closed or self.status.expired:
            self._show("Not sent: the round is no longer waiting for an answer")
            return
        problems = [p for p in (field.problem() for field in self.fields) if p]
        if problems:
            self._show("Not sent: " + "; ".join(problems))
            return
        runtime = get_runtime()
        self.submit.props("loading")
        self.sending = True
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
            self.sending = False
            self.submit.props(remove="loading")
        if sent.state == RoundState.SUBMITTING:
            self._show(
                f"Stored, not yet accepted: {sent.message}. The outbox keeps trying; the run page follows it.",
                kind="warning",
            )
            self._keep()
        else:
            ui.notify(f"Round {self.round.round} of run {self.round.task_id} sent", type="positive")
            self.closed = True
            self.on_done(self.round.id)
            await self.keeper.discard()
        runtime.round_answered(self.round.task_id)

    def _left(self, round_id: int) -> None:
        """Skip or Cancel run took the round away here: the card goes, and so does the typed draft."""
        self.closed = True
        self.on_done(round_id)
        background_tasks.create(self.keeper.discard(), name=f"discard typed draft of round {round_id}")

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
