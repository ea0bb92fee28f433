"""The handler editor's Test panel: sample arguments, then the answer the editor's current settings give.

Arguments start as a sample built from the tool's JSON Schema (``sample_args``) or
as the arguments of one of the tool's latest past calls.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from typing import Any

from nicegui import ui

from app.services.handler_store import PastCall
from app.services.handler_test import HandlerTestOutcome
from app.states import Role
from app.ui import access
from app.ui.format import JsonProblem, parse_json, pretty_json

MAX_ARGS_CHARS = 100_000
"""Browser messages over about 1 MB are dropped (NiceGUI): sample arguments stop well below that."""

MEMORY_HINT = (
    "Rules with a sequence or state answer as this call of the rule that matches, in a run with this state; "
    "the real counts and states are neither read nor changed."
)
SCHEMA = "schema"
_FORMATS = {
    "date": "2026-12-24",
    "date-time": "2026-12-24T18:00:00Z",
    "time": "18:00:00",
    "email": "someone@example.com",
    "uri": "https://example.com",
    "url": "https://example.com",
    "uuid": "3f1c2a7e-0000-4000-8000-000000000000",
    "ipv4": "192.0.2.1",
    "hostname": "example.com",
}
_MAX_DEPTH = 8


def sample_args(schema: dict[str, Any] | None) -> dict[str, Any]:
    """Sample arguments for a tool's JSON Schema (``parameters``): one value per property, by (in order)
    ``const``, ``examples``/``example``, ``default``, ``enum``, then type and format: strings "example"
    (a date format gives "2026-12-24"), integers and numbers 1 (or their ``minimum``), booleans true."""
    value = _sample(schema or {}, 0)
    return value if isinstance(value, dict) else {}


def _sample(schema: Any, depth: int) -> Any:
    if not isinstance(schema, dict) or depth > _MAX_DEPTH:
        return None
    if "const" in schema:
        return schema["const"]
    examples = schema.get("examples")
    if isinstance(examples, list) and examples:
        return examples[0]
    for key in ("example", "default"):
        if key in schema:
            return schema[key]
    enum = schema.get("enum")
    if isinstance(enum, list) and enum:
        return enum[0]
    for key in ("anyOf", "oneOf", "allOf"):
        options = [o for o in schema.get(key) or [] if isinstance(o, dict) and o.get("type") != "null"]
        if options:
            return _sample(options[0], depth + 1)
    kind = schema.get("type")
    if isinstance(kind, list):
        kind = next((k for k in kind if k != "null"), "null")
    if kind is None:
        kind = "object" if "properties" in schema else "array" if "items" in schema else "string"
    if kind == "object":
        properties = schema.get("properties") or {}
        return {name: _sample(sub, depth + 1) for name, sub in properties.items()}
    if kind == "array":
        items = schema.get("items")
        return [_sample(items, depth + 1)] if isinstance(items, dict) and items else []
    if kind in ("integer", "number"):
        low = schema.get("minimum")
        return low if isinstance(low, int | float) and not isinstance(low, bool) and low > 1 else 1
    if kind == "boolean":
        return True
    if kind == "string":
        return _FORMATS.get(str(schema.get("format", "")), "example")
    return None


class HandlerTestPanel:
    """Arguments (JSON), the call to test as and the run's state (rules with sequences or state), and a Test
    button; ``run(args, call_count, state)`` answers with the editor's settings, or ``None`` when they have a
    problem (the editor shows it)."""

    def __init__(
        self,
        *,
        schema: dict[str, Any],
        past_calls: list[PastCall],
        run: Callable[[dict[str, Any], int, dict[str, Any]], Awaitable[HandlerTestOutcome | None]],
    ) -> None:
        self._run = run
        self._samples: dict[str, dict[str, Any]] = {SCHEMA: sample_args(schema)}
        options = {SCHEMA: "Sample from the tool's schema"}
        for index, past in enumerate(past_calls):
            key = f"call-{index}"
            self._samples[key] = past.arguments
            options[key] = f"run {past.task_id} · round {past.round} · {_short(past.arguments)}"
        with ui.card().classes("w-full").props("flat bordered").mark("test-panel"):
            with ui.row().classes("w-full items-center gap-2"):
                ui.icon("science", color="primary").classes("text-xl")
                ui.label("Test").classes("text-lg font-bold")
                ui.label("runs the settings above, saved or not; nothing is sent to the platform").classes(
                    "text-sm text-grey-7"
                )
            self.source = (
                ui.select(options, value=SCHEMA, label="Arguments from", on_change=self._pick)
                .props("outlined dense options-dense")
                .classes("w-full")
                .mark("test-args-source")
            )
            if not past_calls:
                self.source.props("hint='No past call of this tool yet: answered calls show up here.'")
            self.args = (
                ui.codemirror(pretty_json(self._samples[SCHEMA]), language="JSON", line_wrapping=True)
                .classes("w-full h-28 border border-gray-300 rounded")
                .mark("test-args")
            )
            with ui.row().classes("w-full items-start gap-3 no-wrap"):
                self.call_count = (
                    ui.number("As call", value=1, min=1, max=1_000_000, precision=0, format="%d")
                    .props("outlined dense")
                    .classes("w-28")
                    .mark("test-call-count")
                )
                self.state = (
                    ui.input("Run state (JSON)", placeholder="{}")
                    .props("outlined dense input-class=font-mono")
                    .classes("grow")
                    .mark("test-state")
                )
                self.state.props["hint"] = MEMORY_HINT
            self.problem = ui.label().classes("text-negative text-sm").mark("test-problem")
            self.problem.set_visibility(False)
            self.button = (
                ui.button("Test", icon="play_arrow", on_click=access.guarded(Role.ADMIN, self.test))
                .props("outline")
                .mark("test-handler")
            )
            self.result = ui.column().classes("w-full gap-1").mark("test-result")

    def _pick(self) -> None:
        self.args.set_value(pretty_json(self._samples.get(self.source.value or SCHEMA, {})))

    async def test(self) -> None:
        parsed = self._parse()
        if parsed is None:
            return
        self.button.props("loading")
        try:
            done = await self._run(*parsed)
        finally:
            self.button.props(remove="loading")
        self.result.clear()
        if done is not None:
            with self.result:
                _show_answer(done)

    def _parse(self) -> tuple[dict[str, Any], int, dict[str, Any]] | None:
        text = self.args.value or ""
        message = ""
        args: dict[str, Any] = {}
        if len(text) > MAX_ARGS_CHARS:
            message = f"arguments are {len(text):,} characters; the limit is {MAX_ARGS_CHARS:,}"
        else:
            try:
                parsed = parse_json(text or "{}")
            except JsonProblem as exc:
                message = f"arguments are not JSON: {exc}"
            else:
                if isinstance(parsed, dict):
                    args = parsed
                else:
                    message = 'arguments must be a JSON object, e.g. {"city": "Oslo"}'
        memory = self._memory()
        if isinstance(memory, str):
            message = message or memory
        self.problem.set_text(message)
        self.problem.set_visibility(bool(message))
        return None if message or isinstance(memory, str) else (args, *memory)

    def _memory(self) -> tuple[int, dict[str, Any]] | str:
        """The call to test as and the run's state, or what is wrong with them."""
        count = self.call_count.value
        if not isinstance(count, int | float) or not 1 <= count <= 1_000_000 or count != int(count):
            return "As call must be a whole number from 1 to 1,000,000"
        try:
            state = parse_json(self.state.value or "{}")
        except JsonProblem as exc:
            return f'the run state is not JSON: {exc}; write an object such as {{"logged_in": true}}'
        if not isinstance(state, dict):
            return 'the run state must be a JSON object such as {"logged_in": true}'
        return int(count), state


def _show_answer(answer: HandlerTestOutcome) -> None:
    with ui.row().classes("items-center gap-2"):
        if answer.is_error:
            ui.badge("is_error", color="negative").mark("test-is-error")
        else:
            ui.badge("ok", color="positive")
        ui.label(f"{answer.duration_ms:.0f} ms").classes("text-sm text-grey-7").mark("test-duration")
        if answer.note:
            ui.label(answer.note).classes("text-sm text-grey-8").mark("test-note")
    if answer.call_count is not None:
        after = "" if answer.state_after is None else f"; the run's state after it: {json.dumps(answer.state_after)}"
        ui.label(f"answered as call {answer.call_count} (nothing counted or stored){after}").classes(
            "text-sm text-grey-8"
        ).mark("test-memory")
    colour = " text-negative" if answer.is_error else ""
    ui.label(answer.output).classes(
        "w-full font-mono text-sm whitespace-pre-wrap bg-grey-1 rounded p-2 border border-gray-300" + colour
    ).mark("test-output")
    if answer.logs:
        ui.label("Logs").classes("text-xs text-grey-7 uppercase tracking-wide")
        ui.label(answer.logs).classes("w-full font-mono text-xs whitespace-pre-wrap bg-grey-2 rounded p-2").mark(
            "test-logs"
        )


def _short(arguments: dict[str, Any]) -> str:
    text = json.dumps(arguments, ensure_ascii=False)
    return text if len(text) <= 70 else text[:69] + "…"
