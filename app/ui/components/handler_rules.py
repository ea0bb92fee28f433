"""The rules part of the handler editor: an ordered list of rules, each with conditions and a response.

The draft lives in plain dicts (what the widgets show, as text); ``RulesEditor.spec()``
turns it into a ``RulesSpec``-shaped dict. An *equals* value is parsed as JSON when it
parses (``1``, ``true``, ``"1"``, ``{"a": 1}``), else kept as the string typed.

Rules are reordered by dragging a card by its handle (NiceGUI's ``make_sortable``, SortableJS) or with the up and
down buttons (the keyboard's way); each can be duplicated, or switched off (kept, but skipped).
"""

from __future__ import annotations

import copy
import json
import re
from typing import Any

from nicegui import ui
from nicegui.events import SortableEventArguments

from app.services.rule_edits import copy_name
from app.ui.components.handler_rule_steps import StepsProblem, steps_draft, steps_fields, steps_spec
from app.ui.format import JsonProblem, parse_json, pretty_json

MATCHER_KINDS = {"equals": "equals", "regex": "regex", "jmespath": "JMESPath", "any": "any"}
TEMPLATE_HINT = "Template: {{ args.city }} · agent_id · task_id · round · results.<tool> · now · fake.name()"
WHEN_HINT = (
    "All conditions must match (none: always). Path is dotted: city, address.zip, items.0. "
    'equals: the value is parsed as JSON when it parses (1, true, "1"), else taken as text · '
    "regex: searched in the value at path · JMESPath: an expression over all args, true when truthy · any: always."
)
_VALUE_LABELS = {"equals": "Value", "regex": "Pattern", "jmespath": "Expression", "any": "Value"}
RULES_SHOWN = 100
"""Rules drawn at first, and added by each *Show more* (every edit draws the list again, on the event loop that
answers the webhook: 300 rules held it about 4 s, 30,000 for minutes). A rule a problem names, and one just added,
are drawn whatever their place; rules not drawn are kept and saved as they are."""


class DraftProblem(ValueError):
    """Something in the editor that cannot become a spec yet (JSON that does not parse, code too long)."""


class RulesEditor:
    """Edits a rules spec in place; first match wins, so order matters (move rules up and down)."""

    def __init__(self, spec: dict[str, Any] | None) -> None:
        spec = spec or {}
        self.rules: list[dict[str, Any]] = [_rule_draft(rule) for rule in spec.get("rules") or []]
        default = spec.get("default")
        self.default: dict[str, Any] = {"enabled": default is not None, **_response_draft(default)}
        self.flagged: set[int] = set()
        self.opened: dict[str, Any] | None = None  # the rule added from a call, outlined until saved
        self.opened_fields: tuple[ui.card, ui.textarea] | None = None
        self.shown = RULES_SHOWN
        with ui.column().classes("w-full gap-3") as self.container:
            self.render()

    def spec(self) -> dict[str, Any]:
        """The ``RulesSpec`` dict; raises ``DraftProblem`` naming the rule when a JSON output does not parse."""
        rules = [
            {
                "name": str(rule["name"] or "").strip(),
                "when": [_matcher(m) for m in rule["when"]],
                "response": _response(rule, f"rule {number}"),
                "enabled": bool(rule["enabled"]),
                **_steps(rule, f"rule {number}"),
            }
            for number, rule in enumerate(self.rules, start=1)
        ]
        default = _response(self.default, "default") if self.default["enabled"] else None
        return {"rules": rules, "default": default}

    def flag(self, message: str | None) -> None:
        """Outline the rules a problem message names ("rule 2 (Oslo), when[0].value: …")."""
        flagged = {int(n) for n in re.findall(r"\brule (\d+)\b", message or "")}
        if flagged != self.flagged:
            self.flagged = flagged
            self.render()

    def render(self) -> None:
        self.container.clear()
        with self.container:
            if not self.rules:
                ui.label("No rule yet: every call gets the default response (or an error without one).").classes(
                    "text-grey-6 italic"
                )
            opened = next((n for n, rule in enumerate(self.rules, start=1) if rule is self.opened), 0)
            limit = max(self.shown, opened, *self.flagged)
            with ui.column().classes("w-full gap-3").mark("rule-list") as listed:
                for number, rule in enumerate(self.rules[:limit], start=1):
                    self._rule_card(number, rule)
            listed.make_sortable(handle=".rule-drag", on_end=self._dropped)
            if (hidden := len(self.rules) - limit) > 0:
                ui.button(
                    f"Show more ({min(RULES_SHOWN, hidden):,} of {hidden:,} more rules)", on_click=self._show_more
                ).props("flat dense no-caps").mark("more-rules")
            ui.button("Add rule", icon="add", on_click=self._add).props("outline dense no-caps").mark("add-rule")
            self._default_card()

    def _rule_card(self, number: int, rule: dict[str, Any]) -> None:
        border = "border-2 border-red-500" if number in self.flagged else ""
        border = border or ("border-2 border-primary" if rule is self.opened else "")
        off = "" if rule["enabled"] else "opacity-60"
        with ui.card().classes(f"w-full gap-2 {border} {off}").props("flat bordered").mark(f"rule-{number}") as card:
            with ui.row().classes("w-full items-center gap-2 no-wrap"):
                ui.icon("drag_indicator", color="grey-6").classes("rule-drag cursor-move text-xl").tooltip(
                    "Drag to reorder (or use the arrows)"
                )
                ui.badge(f"Rule {number}", color="primary" if rule["enabled"] else "grey").props("outline")
                ui.input(
                    placeholder="name, e.g. Oslo", value=rule["name"], on_change=lambda e: rule.update(name=e.value)
                ).props("dense borderless").classes("grow font-bold").mark(f"rule-{number}-name")
                last = len(self.rules)
                _icon_button("arrow_upward", "Move up", lambda: self._move(number, -1), number == 1, number, "up")
                _icon_button(
                    "arrow_downward", "Move down", lambda: self._move(number, 1), number == last, number, "down"
                )
                _icon_button(
                    "content_copy", "Duplicate rule", lambda: self._duplicate(number), False, number, "duplicate"
                )
                _icon_button("delete", "Remove rule", lambda: self._remove(number), False, number, "remove")
                ui.switch(value=rule["enabled"], on_change=lambda e: self._switch(rule, e.value)).props(
                    f'dense aria-label="rule {number} on"'
                ).tooltip("On: the rule answers. Off: kept, but skipped").mark(f"rule-{number}-enabled")
            ui.label("When").classes("text-xs text-grey-7 uppercase tracking-wide")
            for index, matcher in enumerate(rule["when"]):
                self._matcher_row(number, index, rule, matcher)
            ui.button("condition", icon="add", on_click=lambda: self._add_matcher(rule)).props(
                "flat dense no-caps size=sm"
            ).mark(f"rule-{number}-add-when")
            ui.label("Then answer").classes("text-xs text-grey-7 uppercase tracking-wide")
            output = _response_fields(rule, f"rule-{number}")
            steps_fields(rule, f"rule-{number}", _response_fields, _response_draft, self.render)
        if rule is self.opened:
            self.opened_fields = card, output

    def _matcher_row(self, number: int, index: int, rule: dict[str, Any], matcher: dict[str, Any]) -> None:
        prefix = f"rule-{number}-when-{index + 1}"
        kind = matcher["kind"]

        def set_kind(value: str) -> None:
            matcher["kind"] = value
            self.render()

        with ui.row().classes("w-full items-center gap-2 no-wrap"):
            ui.select(MATCHER_KINDS, value=kind, on_change=lambda e: set_kind(e.value)).props(
                "outlined dense options-dense"
            ).classes("w-32").mark(f"{prefix}-kind")
            if kind in ("equals", "regex"):
                ui.input("Path", value=matcher["path"], on_change=lambda e: matcher.update(path=e.value)).props(
                    "outlined dense input-class=font-mono"
                ).classes("w-40").mark(f"{prefix}-path")
            if kind != "any":
                ui.input(
                    _VALUE_LABELS[kind], value=matcher["value"], on_change=lambda e: matcher.update(value=e.value)
                ).props("outlined dense input-class=font-mono").classes("grow").mark(f"{prefix}-value")
            else:
                ui.label("matches every call").classes("grow text-sm text-grey-7")
            ui.button(icon="close", on_click=lambda: self._remove_matcher(rule, index)).props(
                "flat round dense size=sm"
            ).tooltip("Remove condition").mark(f"{prefix}-remove")

    def _default_card(self) -> None:
        with ui.card().classes("w-full gap-2 bg-grey-1").props("flat bordered").mark("rule-default"):

            def toggle(value: bool) -> None:
                self.default["enabled"] = value
                self.render()

            ui.switch(
                "Default response, when no rule matches",
                value=self.default["enabled"],
                on_change=lambda e: toggle(e.value),
            ).mark("default-enabled")
            if self.default["enabled"]:
                _response_fields(self.default, "default")
            else:
                ui.label(
                    "Off: a call no rule matches gets an error result that names the nearest rule and why it missed."
                ).classes("text-sm text-grey-7")

    def add_rule(self, rule: dict[str, Any]) -> None:
        """Add ``rule`` (``Rule`` as JSON) after the others, outlined, scrolled to, its answer focused."""
        self.opened = _rule_draft(rule)
        self.rules.append(self.opened)
        self.render()
        assert self.opened_fields is not None
        card, output = self.opened_fields
        ui.run_javascript(f"getHtmlElement({card.id})?.scrollIntoView({{block: 'center'}})")
        output.run_method("focus")

    def _duplicate(self, number: int) -> None:
        copy = copy_draft(self.rules[number - 1])
        copy["name"] = copy_name(copy["name"], number, {str(rule["name"] or "") for rule in self.rules})
        self.rules.insert(number, copy)
        self.flagged.clear()
        self.render()

    def _switch(self, rule: dict[str, Any], enabled: bool) -> None:
        rule["enabled"] = enabled
        self.render()

    def _dropped(self, event: SortableEventArguments) -> None:
        """A card dragged from ``old_index`` to ``new_index``: the draft follows, the numbers are drawn again."""
        if event.old_index != event.new_index and 0 <= event.old_index < len(self.rules):
            self.rules.insert(event.new_index, self.rules.pop(event.old_index))
            self.flagged.clear()
        self.render()

    def _add(self) -> None:
        self.rules.append(_rule_draft({"when": [{"kind": "equals", "path": "", "value": ""}]}))
        self.shown = max(self.shown, len(self.rules))
        self.render()

    def _show_more(self) -> None:
        self.shown += RULES_SHOWN
        self.render()

    def _remove(self, number: int) -> None:
        del self.rules[number - 1]
        self.flagged.clear()
        self.render()

    def _move(self, number: int, step: int) -> None:
        index, other = number - 1, number - 1 + step
        if 0 <= other < len(self.rules):
            self.rules[index], self.rules[other] = self.rules[other], self.rules[index]
            self.flagged.clear()
            self.render()

    def _add_matcher(self, rule: dict[str, Any]) -> None:
        rule["when"].append({"kind": "equals", "path": "", "value": ""})
        self.render()

    def _remove_matcher(self, rule: dict[str, Any], index: int) -> None:
        del rule["when"][index]
        self.render()


def _icon_button(icon: str, tip: str, action: Any, disabled: bool, number: int, name: str) -> None:
    button = ui.button(icon=icon, on_click=action).props("flat round dense size=sm").tooltip(tip)
    button.mark(f"rule-{number}-{name}").set_enabled(not disabled)


def _response_fields(draft: dict[str, Any], prefix: str) -> ui.textarea:
    with ui.row().classes("w-full items-start gap-3 no-wrap"):
        output = (
            ui.textarea("Output", value=draft["output"], on_change=lambda e: draft.update(output=e.value))
            .props("outlined dense autogrow input-class=font-mono")
            .classes("grow")
            .mark(f"{prefix}-output")
        )
        output.props["hint"] = TEMPLATE_HINT
        with ui.column().classes("gap-1 items-start"):
            ui.toggle(
                ["text", "JSON"],
                value="JSON" if draft["json"] else "text",
                on_change=lambda e: draft.update(json=e.value == "JSON"),
            ).props("dense no-caps size=sm").tooltip("JSON: parsed on save; its string values are templates").mark(
                f"{prefix}-format"
            )
            ui.switch("is_error", value=draft["is_error"], on_change=lambda e: draft.update(is_error=e.value)).props(
                "dense"
            ).mark(f"{prefix}-is-error")
    return output


def _rule_draft(rule: dict[str, Any]) -> dict[str, Any]:
    return {
        "name": rule.get("name", ""),
        "when": [_matcher_draft(m) for m in rule.get("when") or []],
        **_response_draft(rule.get("response")),
        "enabled": rule.get("enabled", True) is not False,
        **steps_draft(rule, _response_draft),
    }


def copy_draft(draft: dict[str, Any]) -> dict[str, Any]:
    """A rule's draft copied deep, its conditions and answers in sequence too (so editing the copy leaves the
    original as it is)."""
    return copy.deepcopy(draft)


def _matcher_draft(matcher: dict[str, Any]) -> dict[str, Any]:
    kind = matcher.get("kind", "equals")
    value = matcher.get("value")
    if kind == "equals":
        text = value if isinstance(value, str) and not _parses(value) else json.dumps(value, ensure_ascii=False)
    else:
        text = value if isinstance(value, str) else "" if value is None else json.dumps(value)
    return {"kind": kind, "path": matcher.get("path", ""), "value": text}


def _response_draft(response: dict[str, Any] | None) -> dict[str, Any]:
    response = response or {}
    output = response.get("output", "")
    as_json = not isinstance(output, str)
    return {
        "output": pretty_json(output) if as_json else output,
        "json": as_json,
        "is_error": bool(response.get("is_error")),
    }


def _matcher(draft: dict[str, Any]) -> dict[str, Any]:
    kind, text = draft["kind"], str(draft["value"] or "")
    if kind == "any":
        return {"kind": "any", "path": "", "value": None}
    if kind == "jmespath":
        return {"kind": kind, "path": "", "value": text}
    value: Any = _loads(text) if kind == "equals" and _parses(text) else text
    return {"kind": kind, "path": str(draft["path"] or "").strip(), "value": value}


def _response(draft: dict[str, Any], where: str) -> dict[str, Any]:
    text = str(draft["output"] or "")
    output: Any = text
    if draft["json"]:
        try:
            output = _loads(text)
        except JsonProblem as exc:
            raise DraftProblem(f"{where}, response.output: not JSON ({exc}); switch it to text or fix it") from None
    return {"output": output, "is_error": bool(draft["is_error"])}


def _steps(draft: dict[str, Any], where: str) -> dict[str, Any]:
    try:
        return steps_spec(draft, where, _response)
    except StepsProblem as exc:
        raise DraftProblem(str(exc)) from None


def _parses(text: str) -> bool:
    try:
        _loads(text)
    except ValueError:
        return False
    return True


def _loads(text: str) -> Any:
    """Strict JSON (``parse_json``): NaN and Infinity are not JSON, deep nesting is refused."""
    return parse_json(text)
