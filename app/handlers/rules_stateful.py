"""The console's answers in sequence and run state (``app.handlers.rules_steps``), split across processes.

The exported module answers with ``rules_steps.answer_counted`` in one process. The console takes the same steps,
but its templates and regexes run in a rules worker (``app.handlers.rules_pool``) and its counts and states live
in the database (``app.services.rule_state``), so a call costs two worker trips and two or three short database
trips: read the run's state, choose the rule in a worker (``when_state`` too), count the call (one atomic
``UPDATE``: two calls at once never both get call 1), render that count's answer in a worker, then apply
``set_state``. A spec that uses none of this (``rules_steps.uses_memory``) keeps the one worker trip and no
database work.

``RuleMemory`` is where the counts and the state go: ``StoredMemory`` (the responder's, in the database) or
``TrialMemory`` (the editor's *Test*: a count and a state given by the person, nothing stored).
"""

from __future__ import annotations

import dataclasses
from typing import Any, Protocol

from app.handlers.answer import Answer
from app.handlers.rules_core import RulesJson, Verdict
from app.handlers.rules_pool import DefaultChosen, RulesPool
from app.handlers.rules_steps import StateTooBig, count_key, merged_state, scope_of, step
from app.handlers.templates import TemplateContext


class RuleMemory(Protocol):
    """Counts of one handler's rules and the state of one run (the handler and run are the memory's own)."""

    async def state(self) -> dict[str, Any]:
        """The run's state (``{}`` before any ``set_state``)."""
        ...

    async def count(self, key: str, scope: str) -> int:
        """One more call of rule ``key`` (``rules_steps.count_key``) in ``scope`` (run, all_runs): the new count."""
        ...

    async def set_state(self, updates: dict[str, Any]) -> dict[str, Any]:
        """Merge ``updates`` into the run's state; the new state. Raises ``rules_steps.StateTooBig``."""
        ...


@dataclasses.dataclass
class TrialMemory:
    """A memory for *Test*: every rule is at call ``call_count``, the run's state starts as ``start``; nothing is
    stored. After the call, ``used`` is the count the answering rule got (``None``: no rule answered) and
    ``state_after`` the state its ``set_state`` would leave."""

    call_count: int = 1
    start: dict[str, Any] = dataclasses.field(default_factory=dict)
    used: int | None = None
    state_after: dict[str, Any] | None = None

    async def state(self) -> dict[str, Any]:
        return dict(self.start)

    async def count(self, key: str, scope: str) -> int:
        self.used = self.call_count
        return self.call_count

    async def set_state(self, updates: dict[str, Any]) -> dict[str, Any]:
        self.state_after = merged_state(self.start, updates)
        return self.state_after


async def answer_with_memory(spec: RulesJson, ctx: TemplateContext, *, pool: RulesPool, memory: RuleMemory) -> Answer:
    """The call's answer with sequences and state (the steps above). Never raises for the rules' faults: a failed
    sequence, a ``set_state`` past the bounds and every worker failure are ``is_error`` answers saying so."""
    state = await memory.state()
    picked_rule = await pool.choose(spec, dataclasses.replace(ctx, state=state))
    if isinstance(picked_rule, Answer):
        return picked_rule
    default = picked_rule if isinstance(picked_rule, DefaultChosen) else None
    chosen = None if isinstance(picked_rule, DefaultChosen) else picked_rule
    rule = None if chosen is None else spec["rules"][chosen]
    count = await memory.count(count_key(chosen, rule), scope_of(rule))
    picked = step(spec, chosen, count)
    unmatched, nearest = default is not None, None if default is None else default.nearest
    if isinstance(picked, Verdict):
        return Answer(picked.output, picked.is_error, picked.note, unmatched=unmatched, nearest=nearest)
    response, label = picked
    answer = await pool.render(response, label, dataclasses.replace(ctx, call_count=count, state=state))
    updates = rule.get("set_state") if rule is not None else None
    if updates and answer.note == label:  # answered with its response: not a failed template or worker
        try:
            await memory.set_state(updates)
        except StateTooBig as exc:
            return Answer(
                f"{label}: {exc}: set less", True, f"{label}: state too big", unmatched=unmatched, nearest=nearest
            )
    return Answer(answer.output, answer.is_error, f"{answer.note}, call {count}", unmatched=unmatched, nearest=nearest)
