"""The parts of an inbox card for its tool calls: ``CallField`` (one call's arguments, result field, text-or-JSON
mode and is_error switch) and ``calls_summary``, the light stand-in a card shows until a person opens it.

Why two forms: a full ``CallField`` is about 18 NiceGUI elements (textarea, toggle, switch, badges, tooltips), so
a card of two calls about 50, built in every open Inbox tab for every new round, in the process that answers the
webhook. A card far down the inbox shows its calls as one text element instead and builds its fields when the
person opens it (*Answer*, ``Enter``, or *Submit*), issue 10: "no per-change UI work that
scales", "webhook → visible in another tab".
"""

import json
from collections.abc import Callable

from nicegui import ui

from app.answerers import INBOX_USER, Answerer
from app.models import DraftPublic, RoundPublic, ToolCallPublic
from app.protocol import ToolResult
from app.services.typed_drafts import TypedField
from app.states import DraftMode, Via
from app.ui import access
from app.ui.components.arguments import arguments_view
from app.ui.components.result_editor import ResultEditor
from app.ui.format import JsonProblem, parse_json

SUMMARY_CHARS = 300
"""Characters of a call's arguments that the light summary shows (one line each; the open card shows them all)."""


MAX_CARD_CALLS = 100
"""Tool calls a card answers, and a run page draws, at most. A round may bring thousands within the webhook's 1 MB:
20,000 calls built 20,000 result fields on the event loop and held the whole console (webhook included) for over a
minute in each Inbox tab. A bigger round is answered by the API (``POST /api/rounds/{id}/responses``) or a handler;
``GET /api/rounds/{id}`` has every call."""


def too_many_calls(round_: RoundPublic) -> str | None:
    """Why a card does not answer ``round_`` (more than ``MAX_CARD_CALLS`` calls), or None."""
    count = len(round_.tool_calls)
    if count <= MAX_CARD_CALLS:
        return None
    return (
        f"This round has {count:,} tool calls, more than a card answers ({MAX_CARD_CALLS}): answer it with "
        f"POST /api/rounds/{round_.id}/responses or a handler"
    )


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


def calls_summary(round_: RoundPublic) -> str:
    """The calls of ``round_`` as text, one line each: ``call_1 · get_weather {"city": "Oslo"}``, the arguments
    compact and cut at ``SUMMARY_CHARS``; a call a handler answered says so (its draft fills the field on open). At
    most ``MAX_CARD_CALLS`` lines, then how many more."""
    drafted = {draft.tool_call_id for draft in round_.drafts}
    lines = []
    for call in round_.tool_calls[:MAX_CARD_CALLS]:
        if call.arguments_problem is None:
            arguments = json.dumps(call.arguments, ensure_ascii=False)
        else:
            arguments = f"{call.arguments_text or ''} (the arguments are {call.arguments_problem})"
        if len(arguments) > SUMMARY_CHARS:
            arguments = arguments[:SUMMARY_CHARS] + "…"
        note = " · a handler's draft waits" if call.tool_call_id in drafted else ""
        lines.append(f"{call.tool_call_id} · {call.name} {arguments}{note}")
    hidden = len(round_.tool_calls) - MAX_CARD_CALLS
    if hidden > 0:
        lines.append(f"… and {hidden:,} more tool calls (GET /api/rounds/{round_.id} has them all)")
    return "\n".join(lines)
