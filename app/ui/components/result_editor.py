"""The result field of one tool call: text or JSON, checked while typing in JSON mode.

Why a Quasar textarea and not ``ui.codemirror``: the field is a labelled form input (``Result``) that people,
the keyboard shortcuts (Ctrl+Enter submits while typing) and the browser tests fill like any other; Quasar marks
it in place (``error`` + ``error-message``, NiceGUI's own ``validation``), and its ``maxlength`` stops the browser
at ``MAX_RESULT_CHARS`` before a message grows past NiceGUI's limit. A CodeMirror editor has none of these
(a contenteditable div: no label, no length cap, no field error) and would have to rebuild them. What an editor
adds, colour and the place of a mistake, is given here instead by the error under the field, naming line and
column, and a copy of that line with a caret under the bad character; *Format* indents JSON that parses.

The check runs ``DEBOUNCE`` seconds after the last change (not on every keystroke of a 200,000-character
result), at once when the mode changes, and again on Submit (``CallField.problem``). ``output`` is the textarea:
``.value``, ``.set_value`` and ``.on_value_change`` (or ``ResultEditor.on_change``) work as on any NiceGUI input.
"""

from __future__ import annotations

import asyncio
from typing import Any

from nicegui import events, ui

from app.models import ToolCallPublic
from app.services.typed_drafts import MAX_TYPED_CHARS
from app.ui.format import JsonProblem, parse_json, pretty_json

MAX_RESULT_CHARS = MAX_TYPED_CHARS
"""Browser messages over about 1 MB are dropped (NiceGUI), so a result field stops at this many characters."""

DEBOUNCE = 0.3
"""Seconds of quiet after the last change before the JSON check runs."""

SPOT_WIDTH = 60
"""Characters of the bad line shown around the caret."""


class ResultEditor:
    """``output`` (the textarea), ``mode`` (``text`` / ``JSON`` toggle) and ``controls`` (the row under the field,
    for the caller's own switches)."""

    def __init__(self, call: ToolCallPublic) -> None:
        self.call = call
        self._later: asyncio.TimerHandle | None = None
        self.output = (
            ui.textarea("Result", placeholder="what the tool returns", validation=self._problem)
            .without_auto_validation()
            .props(f"outlined autogrow stack-label input-class=font-mono maxlength={MAX_RESULT_CHARS}")
            .tooltip(f"up to {MAX_RESULT_CHARS:,} characters (the browser's message limit)")
            .classes("w-full")
            .mark(f"result-{call.tool_call_id}")
        )
        self.output.on_value_change(self._soon)
        self.spot = (
            ui.label("")
            .classes("font-mono text-xs whitespace-pre text-negative overflow-x-auto w-full")
            .mark(f"json-spot-{call.tool_call_id}")
        )
        self.spot.set_visibility(False)
        with ui.row().classes("items-center gap-4") as self.controls:
            self.mode = (
                ui.toggle(["text", "JSON"], value="text", on_change=self.check)
                .props("dense no-caps size=sm")
                .mark(f"mode-{call.tool_call_id}")
            )
            self.format = (
                ui.button("Format", icon="format_indent_increase", on_click=self._format)
                .props("flat dense no-caps size=sm")
                .tooltip("indent the JSON (when it parses)")
                .mark(f"format-{call.tool_call_id}")
            )
            self.format.set_visibility(False)

    def on_change(self, callback: Any) -> ResultEditor:
        """Call ``callback`` (a NiceGUI value-change handler) on every change of the text."""
        self.output.on_value_change(callback)
        return self

    @property
    def json_mode(self) -> bool:
        return bool(self.mode.value == "JSON")

    def check(self) -> bool:
        """Check the text now: mark the field and show the bad line when JSON mode's text does not parse.
        Returns whether it is fine (text mode and an empty field always are)."""
        if self._later is not None:
            self._later.cancel()
            self._later = None
        if self.output.is_deleted:
            return True
        self.format.set_visibility(self.json_mode)
        return bool(self.output.validate())

    def _soon(self, _event: events.ValueChangeEventArguments[Any]) -> None:
        if self._later is not None:
            self._later.cancel()
        self._later = asyncio.get_running_loop().call_later(DEBOUNCE, self.check)

    def _problem(self, value: str | None) -> str | None:
        """NiceGUI's validation: the field's error message, or ``None``; also draws the bad line."""
        text = value or ""
        spot = ""
        message = None
        if self.json_mode and text.strip():
            try:
                parse_json(text)
            except JsonProblem as exc:
                message = f"not JSON: {exc}"
                spot = _spot(text, exc.line, exc.column)
        self.spot.set_text(spot)
        self.spot.set_visibility(bool(spot))
        return message

    def _format(self) -> None:
        try:
            value = parse_json(self.output.value or "")
        except JsonProblem:
            self.check()
            return
        self.output.set_value(pretty_json(value))


def _spot(text: str, line: int | None, column: int | None) -> str:
    """The bad line, cut to ``SPOT_WIDTH`` characters around ``column``, with a caret under it."""
    if line is None or column is None:
        return ""
    lines = text.split("\n")
    if not 0 < line <= len(lines):
        return ""
    content = lines[line - 1]
    start = max(0, column - 1 - SPOT_WIDTH // 2)
    shown = (
        ("…" if start else "")
        + content[start : start + SPOT_WIDTH]
        + ("…" if len(content) > start + SPOT_WIDTH else "")
    )
    gutter = f"{line} | "
    caret = " " * (len(gutter) + column - 1 - start + (1 if start else 0)) + "^"
    return f"{gutter}{shown}\n{caret}"
