"""Editing a saved rules handler's rules one step at a time: duplicate one, reorder them, turn one off or on, add one.

For scripts (``/api/handlers/{id}/rules/...``); the handler editor does the same to its unsaved draft and saves it
whole. Each edit reads the current rules and saves the result as the handler's next version in one transaction
(``handler_store.store_version``), so two edits at once cannot undo each other; an edit that changes nothing
writes no version. Rules are numbered from 1, as every message numbers them ("rule 2"). Raises ``NotFound`` (an
unknown handler or rule number) and ``HandlerInvalid`` (a handler of another kind, an order that is not a
permutation, a new rule whose template does not compile).
"""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy import Engine

from app.db import write_session
from app.errors import HandlerInvalid, NotFound
from app.handlers.rules import Rule, RulesSpec, check_rules
from app.models import Handler, HandlerPublic
from app.services.handler_store import HandlerIn, store_version
from app.states import HandlerKind


def duplicate_rule(*, engine: Engine, handler_id: int, number: int) -> HandlerPublic:
    """Insert a copy of rule ``number`` right after it, named by ``copy_name``."""

    def change(spec: RulesSpec) -> str:
        rule = _rule(spec, number)
        name = copy_name(rule.name, number, {r.name for r in spec.rules})
        spec.rules.insert(number, rule.model_copy(deep=True, update={"name": name}))
        return f"duplicated rule {number}{_named(rule)}"

    return _edit(engine, handler_id, change)


def copy_name(name: str, number: int, taken: set[str]) -> str:
    """The name of a copy of rule ``number`` (named ``name``) that no rule in ``taken`` has: "<name> (copy)", then
    "<name> (copy 2)", "<name> (copy 3)" ...; "copy of rule N", "copy 2 of rule N" ... for an unnamed rule. Unique,
    because a rule's count across runs is kept by its name: two copies named alike would share one."""
    n = 1
    while True:
        suffix = "" if n == 1 else f" {n}"
        candidate = f"{name} (copy{suffix})" if name else f"copy{suffix} of rule {number}"
        if candidate not in taken:
            return candidate
        n += 1


def reorder_rules(*, engine: Engine, handler_id: int, order: list[int]) -> HandlerPublic:
    """Put the rules in ``order``: their current numbers, each once (``[2, 1, 3]`` swaps the first two)."""

    def change(spec: RulesSpec) -> str:
        if sorted(order) != list(range(1, len(spec.rules) + 1)):
            raise HandlerInvalid(
                f"order {order} must list each rule number from 1 to {len(spec.rules)} once (the handler has "
                f"{len(spec.rules)} rules)"
            )
        spec.rules = [spec.rules[n - 1] for n in order]
        return "reordered rules: " + ", ".join(map(str, order))

    return _edit(engine, handler_id, change)


def set_rule_enabled(*, engine: Engine, handler_id: int, number: int, enabled: bool) -> HandlerPublic:
    """Turn rule ``number`` on or off; an off rule stays in the list and in every export, and never answers."""

    def change(spec: RulesSpec) -> str:
        rule = _rule(spec, number)
        rule.enabled = enabled
        return f"turned rule {number}{_named(rule)} {'on' if enabled else 'off'}"

    return _edit(engine, handler_id, change)


def append_rule(*, engine: Engine, handler_id: int, rule: Rule, note: str) -> HandlerPublic:
    """Add ``rule`` after the others, with ``note`` on the new version (its template is checked first)."""
    problems = check_rules(RulesSpec(rules=[rule]))
    if problems:
        raise HandlerInvalid("; ".join(p.text.replace("rule 1", "the new rule", 1) for p in problems[:5]))

    def change(spec: RulesSpec) -> str:
        spec.rules.append(rule)
        return note

    return _edit(engine, handler_id, change)


def _edit(engine: Engine, handler_id: int, change: Callable[[RulesSpec], str]) -> HandlerPublic:
    with write_session(engine) as session:
        row = session.get(Handler, handler_id)
        if row is None:
            raise NotFound(f"no handler with id {handler_id}")
        if row.kind != HandlerKind.RULES:
            raise HandlerInvalid(
                f"handler {handler_id} ({row.tool_name}) is a {row.kind} handler: only a rules handler has rules"
            )
        spec = RulesSpec.model_validate(row.spec)
        note = change(spec)
        handler = HandlerIn(
            agent_id=row.agent_id, tool_name=row.tool_name, kind=row.kind, mode=row.mode, behaviour=row.behaviour
        )
        saved, _outcome = store_version(
            session, handler=handler, spec=spec.model_dump(mode="json"), behaviour=row.behaviour, note=note
        )
        return HandlerPublic.model_validate(saved, from_attributes=True)


def _rule(spec: RulesSpec, number: int) -> Rule:
    if not 1 <= number <= len(spec.rules):
        raise NotFound(f"no rule {number}: the handler has {len(spec.rules)} rule(s), numbered from 1")
    return spec.rules[number - 1]


def _named(rule: Rule) -> str:
    return f" ({rule.name})" if rule.name else ""
