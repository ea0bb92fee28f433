"""The rules editor's *Sequence and state* part of one rule: answers after the first, what happens after them, what
counts the calls, and the run's state the rule matches on and sets (``app.handlers.rules_steps``).

``handler_rules`` owns the rule's draft dict and hands in its own response helpers (``draft_of``, ``fields_of``,
``response_of``), so one answer looks and checks the same as the rule's first.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

from nicegui import ui

from app.handlers.rules_steps import STATE_MAX_BYTES, STATE_MAX_KEYS
from app.models import HandlerPublic
from app.runtime import get_runtime
from app.services import rule_state
from app.states import HandlerKind, Role
from app.ui import access
from app.ui.format import JsonProblem, parse_json, pretty_json

AFTER_END = {"repeat": "repeat the last answer", "cycle": "start again from the first", "fail": "fail (error result)"}
SCOPES = {"run": "count calls per run", "all_runs": "count calls across runs"}
STATE_HINT = (
    f"A JSON object. The run's state is shared by its rules handlers, at most {STATE_MAX_KEYS} keys and "
    f"{STATE_MAX_BYTES // 1024} KB; a key never set reads as null, and setting null removes it."
)
TEMPLATE_HINT = "Templates also see call_count (this rule's count, from 1) and state (the run's state)."


class StepsProblem(ValueError):
    """A field of the part that cannot become a spec: JSON that does not parse, or not an object."""


def steps_draft(rule: dict[str, Any], draft_of: Callable[[dict[str, Any] | None], dict[str, Any]]) -> dict[str, Any]:
    """The part's draft keys for a rule's draft, from the rule's JSON (``draft_of`` makes a response's draft)."""
    when_state, set_state = rule.get("when_state") or {}, rule.get("set_state") or {}
    then = [draft_of(answer) for answer in rule.get("then") or []]
    return {
        "then": then,
        "after_end": rule.get("after_end") or "repeat",
        "scope": rule.get("scope") or "run",
        "when_state": pretty_json(when_state) if when_state else "",
        "set_state": pretty_json(set_state) if set_state else "",
        "steps_open": bool(then or when_state or set_state or rule.get("scope") == "all_runs"),
    }


def steps_spec(
    draft: dict[str, Any], where: str, response_of: Callable[[dict[str, Any], str], dict[str, Any]]
) -> dict[str, Any]:
    """The rule's JSON keys of the part (only those not at their defaults); ``StepsProblem`` names ``where``
    ("rule 2") and the field when a state is not a JSON object."""
    spec: dict[str, Any] = {}
    then = [response_of(answer, f"{where}, then[{n}]") for n, answer in enumerate(draft["then"])]
    if then:
        spec["then"] = then
    if draft["after_end"] != "repeat":
        spec["after_end"] = draft["after_end"]
    if draft["scope"] != "run":
        spec["scope"] = draft["scope"]
    for field in ("when_state", "set_state"):
        value = _state(str(draft[field] or ""), f"{where}, {field}")
        if value:
            spec[field] = value
    return spec


def steps_fields(
    draft: dict[str, Any],
    prefix: str,
    fields_of: Callable[[dict[str, Any], str], object],
    draft_of: Callable[[dict[str, Any] | None], dict[str, Any]],
    rerender: Callable[[], None],
) -> None:
    """The part's widgets, in an expansion that stays as the person left it; ``rerender`` redraws the rules."""

    def add() -> None:
        draft["then"].append(draft_of(None))
        draft["steps_open"] = True
        rerender()

    def remove(index: int) -> None:
        del draft["then"][index]
        rerender()

    summary = f"Sequence and state · {len(draft['then']) + 1} answer(s)"
    with (
        ui.expansion(summary, icon="repeat", value=draft["steps_open"])
        .props("dense")
        .classes("w-full")
        .on_value_change(lambda e: draft.update(steps_open=e.value))
        .mark(f"{prefix}-steps")
    ):
        ui.label("The answer above is call 1's; the answers below go to calls 2, 3, … " + TEMPLATE_HINT).classes(
            "text-sm text-grey-7"
        )
        for index, answer in enumerate(draft["then"]):
            with ui.row().classes("w-full items-center gap-2"):
                ui.label(f"Call {index + 2}").classes("text-xs text-grey-7 uppercase tracking-wide")
                ui.button(icon="close", on_click=lambda i=index: remove(i)).props("flat round dense size=sm").tooltip(
                    "Remove this answer"
                ).mark(f"{prefix}-then-{index + 1}-remove")
            fields_of(answer, f"{prefix}-then-{index + 1}")
        ui.button("answer for the next call", icon="add", on_click=add).props("flat dense no-caps size=sm").mark(
            f"{prefix}-add-then"
        )
        with ui.row().classes("w-full gap-3 no-wrap"):
            ui.select(AFTER_END, value=draft["after_end"], label="After the last answer").bind_value(
                draft, "after_end"
            ).props("outlined dense options-dense").classes("grow").mark(f"{prefix}-after-end")
            ui.select(SCOPES, value=draft["scope"], label="Count").bind_value(draft, "scope").props(
                "outlined dense options-dense"
            ).classes("grow").mark(f"{prefix}-scope")
        for field, label in (
            ("when_state", "Only while the run's state has (JSON)"),
            ("set_state", "Then set in the run's state (JSON)"),
        ):
            box = (
                ui.input(label, value=draft[field], placeholder='{"logged_in": true}')
                .bind_value(draft, field)
                .props("outlined dense input-class=font-mono")
                .classes("w-full")
                .mark(f"{prefix}-{field.replace('_', '-')}")
            )
            box.props["hint"] = STATE_HINT


def reset_counts_button(handler: HandlerPublic | None) -> None:
    """*Reset counts* under a saved rules handler (admins): its rules answer as call 1 again, per run and across
    runs (``rule_state.reset_counts``; ``DELETE /api/handlers/{id}/counts`` does the same)."""
    if handler is None or handler.kind != HandlerKind.RULES or not access.may(Role.ADMIN):
        return

    async def reset() -> None:
        engine = get_runtime().engine
        forgot = await asyncio.to_thread(
            lambda: rule_state.reset_counts(engine, agent_id=handler.agent_id, tool_name=handler.tool_name)
        )
        ui.notify(f"{handler.tool_name}: {forgot} count(s) reset; every rule answers as call 1 again", type="positive")

    ui.button("Reset counts", icon="restart_alt", on_click=access.guarded(Role.ADMIN, reset)).props(
        "flat dense no-caps size=sm"
    ).tooltip("Rules with a sequence start again at call 1, in every run and across runs").mark("reset-counts")


def _state(text: str, where: str) -> dict[str, Any]:
    if not text.strip():
        return {}
    try:
        value = parse_json(text)
    except JsonProblem as exc:
        raise StepsProblem(f'{where}: not JSON ({exc}); write an object such as {{"logged_in": true}}') from None
    if not isinstance(value, dict):
        raise StepsProblem(f'{where}: must be a JSON object such as {{"logged_in": true}}, not {text.strip()[:40]}')
    return value
