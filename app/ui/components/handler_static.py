"""The static part of the handler editor: one output (text, or JSON that must parse) and an is_error switch."""

from __future__ import annotations

from typing import Any

from nicegui import ui

from app.ui.components.handler_rules import DraftProblem
from app.ui.format import JsonProblem, parse_json, pretty_json

MAX_OUTPUT_CHARS = 200_000
"""Browser messages over about 1 MB are dropped (NiceGUI), so the output stops at this many characters."""


class StaticFields:
    """Text in a textarea, or JSON in a code editor; each keeps its draft while the other is shown."""

    def __init__(self, spec: dict[str, Any]) -> None:
        output = spec.get("output", "")
        as_json = "output" in spec and not isinstance(output, str)
        with ui.row().classes("w-full items-center gap-4"):
            self.format = (
                ui.toggle(["text", "JSON"], value="JSON" if as_json else "text", on_change=self._show)
                .props("dense no-caps size=sm")
                .mark("static-format")
            )
            self.is_error = ui.switch("is_error (the tool failed)", value=bool(spec.get("is_error"))).mark(
                "static-is-error"
            )
        self.text = (
            ui.textarea("Output", value="" if as_json else output, placeholder="what every call of this tool returns")
            .props(f"outlined autogrow input-class=font-mono maxlength={MAX_OUTPUT_CHARS}")
            .classes("w-full")
            .mark("static-output")
        )
        self.text.props["hint"] = "Sent exactly as typed (no template: use rules for answers that vary)."
        self.json = (
            ui.codemirror(pretty_json(output) if as_json else '{\n  "ok": true\n}', language="JSON")
            .classes("w-full h-48 border border-gray-300 rounded")
            .mark("static-json")
        )
        self._show()

    def spec(self) -> dict[str, Any]:
        """The ``StaticSpec`` dict; raises ``DraftProblem`` when the JSON output does not parse."""
        output: Any = self.text.value or ""
        if self.format.value == "JSON":
            text = self.json.value or ""
            if len(text) > MAX_OUTPUT_CHARS:
                raise DraftProblem(f"the output is {len(text):,} characters; the limit is {MAX_OUTPUT_CHARS:,}")
            try:
                output = parse_json(text)
            except JsonProblem as exc:
                raise DraftProblem(f"output: not JSON ({exc}); fix it or switch to text") from None
        return {"output": output, "is_error": bool(self.is_error.value)}

    def _show(self) -> None:
        as_json = self.format.value == "JSON"
        self.text.set_visibility(not as_json)
        self.json.set_visibility(as_json)
