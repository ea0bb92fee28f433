"""Comparing two runs: their headers side by side and their tool calls aligned step by step.

Rounds are matched by number; within a round, calls by tool name and occurrence (the second ``get_weather``
of a round in A meets the second one in B), so two runs that called the same tools in a different order still
line up. A call with no partner is a step with the other side empty. Arguments and outputs are compared as JSON
(key order ignored, ``1`` and ``true`` kept apart); ``tool_call_id`` differs between runs by nature and is
never counted as a difference, nor are timings or who answered.

``compare_runs`` is blocking (SQLite); call it through ``asyncio.to_thread`` from async code.
"""

from __future__ import annotations

import json
from typing import Any, Literal

from pydantic import BaseModel
from sqlalchemy import Engine

from app.errors import NotFound
from app.json_values import canonical_json, same_json
from app.models import RoundPublic, RunDetail, ToolCallPublic
from app.services.runs import get_run, run_duration

Side = Literal["A", "B"]
AS_SENT = "(text as sent)"
"""The differing "key" when one or both calls' arguments did not parse and their texts differ (case C10)."""


class RunHeader(BaseModel):
    """One run as the comparison shows it; ``duration`` is seconds from its first event to its end
    (``runs.run_duration``: what happens after the end does not count)."""

    task_id: int
    agent_id: str
    agent_name: str | None
    status: str
    environment: str | None
    string_inputs: dict[str, str]
    result: Any
    error: dict[str, Any] | None
    duration: float | None
    rounds: int


class CallSide(BaseModel):
    """One run's side of a step: the call, its result (``output`` null while unanswered) and the round's wait
    (``waited``: seconds from the round opening to its submission, null while not submitted). ``arguments_text``
    and ``arguments_problem``: arguments sent that are not a JSON object, and why (case C10)."""

    tool_call_id: str
    arguments: dict[str, Any]
    arguments_text: str | None = None
    arguments_problem: str | None = None
    output: str | None
    is_error: bool
    answered_by: str | None
    waited: float | None


class Step(BaseModel):
    """One aligned call: ``a`` or ``b`` is null when only the other run made it (``only_in`` says which).

    ``differing_keys`` are the top-level argument keys whose values differ or that one side lacks;
    ``result_differs`` compares output (as JSON when both parse) and ``is_error``; ``differs`` is any of the three.
    """

    round: int
    tool_name: str
    a: CallSide | None
    b: CallSide | None
    only_in: Side | None
    arguments_differ: bool
    differing_keys: list[str]
    result_differs: bool
    differs: bool

    def describe(self) -> str:
        """``search_flights arguments (to)``, ``book_hotel result``, ``book_umbrella only in A``."""
        if self.only_in:
            return f"{self.tool_name} only in {self.only_in}"
        parts = []
        if self.arguments_differ:
            parts.append(f"arguments ({', '.join(self.differing_keys)})")
        if self.result_differs:
            parts.append("result")
        return f"{self.tool_name} {' and '.join(parts)}"


class Comparison(BaseModel):
    """Two runs compared: both headers, run-level flags, the aligned steps and a one-line ``summary``."""

    a: RunHeader
    b: RunHeader
    same_agent: bool
    same_inputs: bool
    differing_inputs: list[str]
    result_differs: bool
    steps: list[Step]
    differing_steps: int
    summary: str


def compare_runs(*, engine: Engine, a: int, b: int) -> Comparison:
    """Compare runs ``a`` and ``b`` (task_ids). Raises ``NotFound`` naming the side whose run is unknown."""
    return compare_details(a=_load(engine, a, "A"), b=_load(engine, b, "B"))


def compare_details(*, a: RunDetail, b: RunDetail) -> Comparison:
    """The comparison of two loaded runs (no database): headers, flags, aligned steps, summary."""
    inputs_a, inputs_b = a.string_inputs or {}, b.string_inputs or {}
    differing_inputs = _differing_keys(inputs_a, inputs_b)
    steps = [step for number in _round_numbers(a, b) for step in _align_round(a, b, number)]
    differing = [step for step in steps if step.differs]
    return Comparison(
        a=_header(a),
        b=_header(b),
        same_agent=a.agent_id == b.agent_id,
        same_inputs=not differing_inputs,
        differing_inputs=differing_inputs,
        result_differs=not same_json(a.result, b.result) or not same_json(a.error, b.error),
        steps=steps,
        differing_steps=len(differing),
        summary=_summary(len(steps), differing),
    )


def _load(engine: Engine, task_id: int, side: Side) -> RunDetail:
    try:
        return get_run(engine=engine, task_id=task_id)
    except NotFound:
        raise NotFound(f"no run with task_id {task_id} (run {side}): pick one of the recent runs") from None


def _header(detail: RunDetail) -> RunHeader:
    return RunHeader(
        task_id=detail.task_id,
        agent_id=detail.agent_id,
        agent_name=detail.agent_name,
        status=detail.status,
        environment=detail.environment,
        string_inputs=detail.string_inputs or {},
        result=detail.result,
        error=detail.error,
        duration=run_duration(detail),
        rounds=len(detail.rounds),
    )


def _round_numbers(a: RunDetail, b: RunDetail) -> list[int]:
    return sorted({r.round for r in a.rounds} | {r.round for r in b.rounds})


def _align_round(a: RunDetail, b: RunDetail, number: int) -> list[Step]:
    """The steps of one round: A's calls in order, each B call placed where its partner (or predecessor) is."""
    round_a = next((r for r in a.rounds if r.round == number), None)
    round_b = next((r for r in b.rounds if r.round == number), None)
    calls_a = round_a.tool_calls if round_a else []
    calls_b = round_b.tool_calls if round_b else []
    keys_b = {key: index for index, key in enumerate(_occurrence_keys(calls_b))}
    matched_b = {keys_b[key] for key in _occurrence_keys(calls_a) if key in keys_b}
    steps: list[Step] = []
    next_b = 0  # B calls before this index are already placed

    def flush_b(upto: int) -> None:
        nonlocal next_b
        while next_b < upto:
            if next_b not in matched_b:
                steps.append(_step(number, calls_b[next_b].name, None, _side(round_b, calls_b[next_b])))
            next_b += 1

    for call, key in zip(calls_a, _occurrence_keys(calls_a), strict=True):
        partner = keys_b.get(key)
        if partner is not None:
            flush_b(partner)
        side_b = _side(round_b, calls_b[partner]) if partner is not None else None
        steps.append(_step(number, call.name, _side(round_a, call), side_b))
    flush_b(len(calls_b))
    return steps


def _occurrence_keys(calls: list[ToolCallPublic]) -> list[tuple[str, int]]:
    """``(name, n)`` for the n-th call of that tool in the round (0-based)."""
    seen: dict[str, int] = {}
    keys = []
    for call in calls:
        keys.append((call.name, seen.get(call.name, 0)))
        seen[call.name] = seen.get(call.name, 0) + 1
    return keys


def _side(round_: RoundPublic | None, call: ToolCallPublic) -> CallSide:
    assert round_ is not None  # a call always belongs to a round
    result = next((r for r in round_.results if r.tool_call_id == call.tool_call_id), None)
    return CallSide(
        tool_call_id=call.tool_call_id,
        arguments=call.arguments,
        arguments_text=call.arguments_text,
        arguments_problem=call.arguments_problem,
        output=result.output if result else None,
        is_error=result.is_error if result else False,
        answered_by=result.answered_by if result else None,
        waited=round_.submitted_at - round_.opened_at if round_.submitted_at is not None else None,
    )


def _step(number: int, name: str, a: CallSide | None, b: CallSide | None) -> Step:
    if a is None or b is None:
        only_in: Side | None = "A" if b is None else "B"
        return Step(
            round=number,
            tool_name=name,
            a=a,
            b=b,
            only_in=only_in,
            arguments_differ=False,
            differing_keys=[],
            result_differs=False,
            differs=True,
        )
    keys = _differing_keys(a.arguments, b.arguments)
    if a.arguments_text != b.arguments_text:  # arguments that did not parse: compared as the text sent
        keys.append(AS_SENT)
    result_differs = _output(a.output) != _output(b.output) or a.is_error != b.is_error
    return Step(
        round=number,
        tool_name=name,
        a=a,
        b=b,
        only_in=None,
        arguments_differ=bool(keys),
        differing_keys=keys,
        result_differs=result_differs,
        differs=bool(keys) or result_differs,
    )


def _differing_keys(a: dict[str, Any], b: dict[str, Any]) -> list[str]:
    """Top-level keys whose values are not JSON-equal or that one side lacks, in A's order then B's."""
    keys = [*a, *(key for key in b if key not in a)]
    return [key for key in keys if key not in a or key not in b or not same_json(a[key], b[key])]


def _output(output: str | None) -> str | None:
    """An output as canonical JSON when it parses as JSON, else as given (``None`` while unanswered)."""
    if output is None:
        return None
    try:
        return "json:" + canonical_json(json.loads(output))
    except (ValueError, RecursionError):
        return "text:" + output


def _summary(total: int, differing: list[Step]) -> str:
    """``3 steps, 2 differ: search_flights arguments (to), book_hotel result``."""
    steps = f"{total} step" + ("" if total == 1 else "s")
    if not total:
        return "No tool calls in either run."
    if not differing:
        return f"{steps}, none differ."
    verb = "differs" if len(differing) == 1 else "differ"
    return f"{steps}, {len(differing)} {verb}: " + ", ".join(step.describe() for step in differing)
