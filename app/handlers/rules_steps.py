"""Answers in sequence and a run's state for rules handlers: WireMock's scenarios, scoped to a run.

*Export as Python* embeds this module's source after ``app.handlers.rules_core``'s (the import of that module
dropped), so it imports only the standard library and has no ``from __future__`` import. Beside ``name``, ``when``
and ``response``, a rule (``RuleJson``) may hold:

- ``then``: the answers after the first. Call 1 gets ``response``, call 2 ``then[0]``, call 3 ``then[1]`` ...
- ``after_end``, once they are used up: ``repeat`` the last (the default), ``cycle`` (start again from
  ``response``) or ``fail``: an error result naming the rule and the count.
- ``scope``: what counts the calls: ``run`` (the default; each run counts from 1) or ``all_runs`` (one count for
  the handler, across runs, until reset).
- ``when_state``: ``{"logged_in": true}``: the rule matches only while the run's state holds these values (a key
  never set reads as ``null``; ``rules_core.choose_rule``).
- ``set_state``: ``{"logged_in": true}``: merged into the run's state when the rule answers with one of its
  responses (not when its sequence failed or its template did); a ``null`` value removes the key. Plain JSON, not
  a template.

Templates see ``call_count`` (this rule's count in its scope, from 1; the default's is counted per run) and
``state`` (the run's state the rule was matched on, before its ``set_state``). The state is one small JSON object
per run (task_id), shared by every rules handler of the run: at most ``STATE_MAX_KEYS`` keys and
``STATE_MAX_BYTES`` bytes of JSON; a ``set_state`` that would pass either is an error result and changes nothing.

Counts are kept per rule under ``count_key``: the rule's name, or its position when it has none ("#2"). Renaming a
rule, or moving an unnamed one, starts a new count; two rules of one name share it.

A spec that uses none of this (``uses_memory``) is answered by ``evaluate_rules`` alone, with nothing counted.
``answer_counted`` answers with a ``Memory`` in this process (the exported module's, ``MEMORY``: lost when the
process ends); the console takes the same steps with its counts in the database (``app.handlers.rules_stateful``).
"""

import json
import re
import threading
from collections.abc import Callable
from typing import Any

from app.handlers.rules_core import RuleJson, RulesJson, Search, Verdict, choose_rule, respond, rule_label

STATE_MAX_KEYS = 64
STATE_MAX_BYTES = 4096
AFTER_END = ("repeat", "cycle", "fail")
SCOPES = ("run", "all_runs")
_NAMES_MEMORY = re.compile(r"\b(call_count|state)\b")
DEFAULT_KEY = "default"
"""The default response's count key (counted per run)."""

RenderWith = Callable[[Any, dict[str, Any]], str]
"""``(template, {"call_count": n, "state": {...}})`` -> its text; raises as ``rules_core.Render`` does."""


class StateTooBig(ValueError):
    """A ``set_state`` would make the run's state pass ``STATE_MAX_KEYS`` or ``STATE_MAX_BYTES``."""


def uses_memory(spec: RulesJson) -> bool:
    """Whether answering needs counts or the run's state: a rule with ``then``, ``after_end: fail``,
    ``when_state`` or ``set_state``, or a template naming ``call_count`` or ``state``."""
    for rule in spec["rules"]:
        if rule.get("then") or rule.get("after_end") == "fail" or rule.get("when_state") or rule.get("set_state"):
            return True
    outputs = [rule["response"]["output"] for rule in spec["rules"]]
    if spec["default"] is not None:
        outputs.append(spec["default"]["output"])
    return _NAMES_MEMORY.search(json.dumps(outputs, ensure_ascii=False)) is not None


def count_key(index: int | None, rule: RuleJson | None) -> str:
    """Where a rule's calls are counted: ``"name:<name>"``, ``"#<position>"`` when unnamed, ``"default"``."""
    if index is None or rule is None:
        return DEFAULT_KEY
    return f"name:{rule['name']}" if rule["name"] else f"#{index + 1}"


def scope_of(rule: RuleJson | None) -> str:
    """``"run"`` or ``"all_runs"``; the default counts per run."""
    return "all_runs" if rule is not None and rule.get("scope") == "all_runs" else "run"


def step(spec: RulesJson, index: int | None, count: int) -> tuple[Any, str] | Verdict:
    """What call ``count`` (from 1) of rule ``index`` (``None``: the default) answers: ``(response, label)``, or
    the error ``Verdict`` of a ``fail`` sequence that has ended."""
    if index is None:
        assert spec["default"] is not None  # choose_rule picks the default only when there is one
        return spec["default"], "default"
    rule = spec["rules"][index]
    label = rule_label(index, rule)
    answers = [rule["response"], *(rule.get("then") or [])]
    if count <= len(answers):
        return answers[count - 1], label
    mode = rule.get("after_end") or "repeat"
    if mode == "cycle":
        return answers[(count - 1) % len(answers)], label
    if mode == "fail":
        where = "across runs" if scope_of(rule) == "all_runs" else "in this run"
        return Verdict(
            f"{label} has {len(answers)} answer(s) and then fails: this is call {count} {where}",
            True,
            f"{label}: sequence ended",
        )
    return answers[-1], label


def merged_state(state: dict[str, Any], updates: dict[str, Any]) -> dict[str, Any]:
    """``state`` with ``updates`` merged in (a ``null`` removes its key); ``StateTooBig`` past the bounds."""
    merged = dict(state)
    for key, value in updates.items():
        if value is None:
            merged.pop(key, None)
        else:
            merged[key] = value
    if len(merged) > STATE_MAX_KEYS:
        raise StateTooBig(f"set_state would give the run's state {len(merged)} keys (limit {STATE_MAX_KEYS})")
    size = len(json.dumps(merged, ensure_ascii=False).encode())
    if size > STATE_MAX_BYTES:
        raise StateTooBig(f"set_state would make the run's state {size} bytes of JSON (limit {STATE_MAX_BYTES})")
    return merged


class Memory:
    """Counts and run states kept in this process, safe across threads (the exported module's: lost at exit)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.counts: dict[tuple[str, str, int], int] = {}
        self.states: dict[int, dict[str, Any]] = {}

    def count(self, tool: str, key: str, task_id: int) -> int:
        """One more call of rule ``key`` of ``tool`` in ``task_id`` (0: across runs); the new count, from 1."""
        with self._lock:
            count = self.counts.get((tool, key, task_id), 0) + 1
            self.counts[tool, key, task_id] = count
            return count

    def state(self, task_id: int) -> dict[str, Any]:
        """The run's state (a copy; ``{}`` before any ``set_state``)."""
        with self._lock:
            return dict(self.states.get(task_id, {}))

    def set_state(self, task_id: int, updates: dict[str, Any]) -> dict[str, Any]:
        """Merge ``updates`` into the run's state (``merged_state``); the new state. Raises ``StateTooBig``."""
        with self._lock:
            merged = merged_state(self.states.get(task_id, {}), updates)
            self.states[task_id] = merged
            return dict(merged)

    def clear(self) -> None:
        """Forget every count and state."""
        with self._lock:
            self.counts.clear()
            self.states.clear()


MEMORY = Memory()


def answer_counted(
    spec: RulesJson,
    args: dict[str, Any],
    *,
    tool: str,
    task_id: int,
    memory: Memory,
    render: RenderWith,
    search: Search,
    unparsed: str | None = None,
) -> Verdict:
    """``evaluate_rules`` with counts and the run's state in ``memory``: match (``when_state`` too), count the call,
    pick the answer of that count, render it with ``call_count`` and ``state``, then apply ``set_state``."""
    state = memory.state(task_id)
    chosen = choose_rule(spec, args, search=search, unparsed=unparsed, state=state)
    if isinstance(chosen, Verdict):
        return chosen
    rule = None if chosen is None else spec["rules"][chosen]
    count = memory.count(tool, count_key(chosen, rule), 0 if scope_of(rule) == "all_runs" else task_id)
    picked = step(spec, chosen, count)
    if isinstance(picked, Verdict):
        return picked
    response, label = picked
    verdict = respond(response, lambda template: render(template, {"call_count": count, "state": state}), label)
    if rule is not None and rule.get("set_state") and verdict.note == label:
        try:
            memory.set_state(task_id, rule.get("set_state") or {})
        except StateTooBig as exc:
            return Verdict(f"{label}: {exc}: set less", True, f"{label}: state too big")
    return Verdict(verdict.output, verdict.is_error, f"{verdict.note}, call {count}")
