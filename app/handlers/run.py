"""Answering one tool call with a handler of any kind, with its latency and faults.

``answer_call`` is what the responder and the editor's *Test* button share, so
a test run behaves exactly like a real one.
"""

from __future__ import annotations

import random
import time
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from pydantic import ValidationError

from app.errors import field_problem
from app.handlers.answer import Answer
from app.handlers.faults import Behaviour, apply_behaviour
from app.handlers.rules import RulesSpec, rules_json
from app.handlers.rules_pool import rules_pool
from app.handlers.rules_stateful import RuleMemory, TrialMemory, answer_with_memory
from app.handlers.rules_steps import uses_memory
from app.handlers.sandbox import Sandbox
from app.handlers.static import StaticSpec, answer_static
from app.handlers.templates import TemplateContext
from app.states import HandlerKind


@dataclass(frozen=True)
class CallAnswer:
    """A handler's answer with what it cost: ``duration_ms`` (wall clock) and captured ``logs``."""

    answer: Answer
    duration_ms: float
    logs: str = ""


@dataclass(frozen=True)
class CallInput:
    """One call to answer: ``results`` are earlier tool results of the task by tool name (last wins).

    ``args_problem``: why the arguments sent are not a JSON object (``args`` is then ``{}`` and ``args_text`` the
    text sent; case C10), else ``None``.
    """

    tool_call_id: str
    tool_name: str
    args: dict[str, Any]
    agent_id: str
    task_id: int
    round: int
    results: dict[str, str]
    args_text: str | None = None
    args_problem: str | None = None


async def answer_call(
    *,
    kind: HandlerKind,
    spec: dict[str, Any],
    behaviour: dict[str, Any],
    call: CallInput,
    sandbox: Sandbox | None,
    memory: Callable[[CallInput], RuleMemory] | None = None,
) -> CallAnswer:
    """Run the handler on ``call``. Never raises for a handler's fault: a broken spec, a template error or a
    failing snippet is an ``is_error`` answer that says what went wrong.

    Arguments that did not parse (``call.args_problem``, case C10): a static handler answers as always; a rules
    handler matches only rules that do not read the arguments, else its default; a Python handler is not run
    (its ``handle(args: dict, ...)`` and ``Args`` model promise an object) and the call gets an ``is_error``
    answer quoting the text sent.

    ``memory`` gives a rules handler's counts and run state for the call (``rules_stateful``); without it a spec
    with sequences or state answers as call 1 of a run with an empty state, and nothing is stored."""
    started = time.monotonic()
    seed = zlib.crc32(f"{call.task_id}:{call.tool_call_id}".encode())
    logs: list[str] = []

    async def produce() -> Answer:
        try:
            if kind == HandlerKind.STATIC:
                return answer_static(StaticSpec.model_validate(spec))
            if kind == HandlerKind.RULES:
                ctx = TemplateContext(
                    args=call.args,
                    agent_id=call.agent_id,
                    task_id=call.task_id,
                    round=call.round,
                    results=call.results,
                    now=datetime.now(UTC),
                    seed=seed,
                    args_problem=call.args_problem,
                )
                rules = RulesSpec.model_validate(spec)
                return await _answer_rules(rules, ctx, memory(call) if memory is not None else TrialMemory())
            if kind == HandlerKind.PYTHON:
                if call.args_problem is not None:
                    return Answer(
                        output=f"the arguments are {call.args_problem}; the handler was not run. Sent: "
                        f"{(call.args_text or '')[:500]}",
                        is_error=True,
                        note="arguments did not parse",
                    )
                if sandbox is None:
                    return Answer(output="python handlers need the sandbox, which is not running", is_error=True)
                outcome = await sandbox.run(
                    code=str(spec.get("code", "")), args=call.args, agent_id=call.agent_id, task_id=call.task_id
                )
                logs.extend(part for part in (outcome.stdout, outcome.stderr) if part)
                return Answer(output=outcome.output, is_error=outcome.is_error, note=outcome.failure or "")
        except ValidationError as exc:
            return Answer(
                output=f"the {kind} handler's settings are invalid: {field_problem(exc, where='spec')}",
                is_error=True,
                note="invalid settings",
            )
        return Answer(output=f"unknown handler kind {kind!r} (expected one of {', '.join(HandlerKind)})", is_error=True)

    try:
        rules = Behaviour.model_validate(behaviour or {})
    except ValidationError as exc:
        answer = Answer(
            output=f"the handler's latency/fault settings are invalid: {field_problem(exc, where='behaviour')}",
            is_error=True,
            note="invalid behaviour",
        )
    else:
        answer = await apply_behaviour(rules, produce, rng=random.Random(seed))
    return CallAnswer(answer=answer, duration_ms=(time.monotonic() - started) * 1000, logs="\n".join(logs))


async def _answer_rules(rules: RulesSpec, ctx: TemplateContext, memory: RuleMemory) -> Answer:
    """In a rules worker process, bounded in time and memory (``app.handlers.rules_pool``), never in a thread;
    with ``memory`` when the spec has sequences or state."""
    try:
        pool = await rules_pool()
    except Exception as exc:  # a worker could not start: say so as the call's answer
        return Answer(output=f"rules handlers cannot run: their worker process did not start ({exc})", is_error=True)
    spec = rules_json(rules)
    if uses_memory(spec):
        return await answer_with_memory(spec, ctx, pool=pool, memory=memory)
    return await pool.answer(spec, ctx)
