"""Unmatched calls: the tool calls a rules handler answered without a rule, kept per handler to turn into rules.

WireMock's near misses and Mockoon's unmatched requests, for tool calls. After a saved rules handler answers a call
in any mode (auto, suggest, fallback) and no rule gave the answer (its default did, or the error naming the nearest
rule when there is no default), the responder keeps the call here: handler and version, tool, run (task_id),
round, tool_call_id, arguments, what it was answered and the nearest rule with each condition's check (the same
diagnosis as the error result's, ``rules_core.nearest_rule``). The demo's handler set and *Test* keep nothing.

Bounded: the newest ``UNMATCHED_KEPT`` (200) per handler; keeping one more deletes the oldest beyond that in the
same transaction. Arguments longer than ``ARGUMENTS_KEPT`` characters of JSON are not kept (``arguments_problem``
says how long they were), nor the first ``OUTPUT_KEPT`` characters of the answer beyond. A handler's unmatched
calls go when it is deleted (``ON DELETE CASCADE``), or when cleared.

*New rule from this call* (``rule_for_unmatched``) is *Save as rule*'s rule for those arguments: one equals
condition per argument, named after the tool and its arguments, with an empty answer to fill in.
"""

from __future__ import annotations

import json
import time
from typing import Any

from sqlalchemy import Engine, delete, func, text
from sqlmodel import col, select

from app.db import read_session, write_session
from app.errors import HandlerInvalid, NotFound
from app.handlers.answer import Answer
from app.handlers.rules import Rule, rule_from_answer
from app.handlers.run import CallInput
from app.json_values import canonical_json
from app.models import Handler, HandlerPublic, UnmatchedCall, UnmatchedCallPublic
from app.services import rule_edits

UNMATCHED_KEPT = 200
"""Unmatched calls kept per handler, the newest."""

ARGUMENTS_KEPT = 100_000
"""Characters of JSON up to which a call's arguments are kept."""

OUTPUT_KEPT = 500
"""Characters of the answer a call got that are kept."""


def keep_unmatched(*, engine: Engine, handler_id: int, handler_version: int, call: CallInput, answer: Answer) -> None:
    """Keep one call ``answer`` answered without a rule (``answer.unmatched``), dropping the oldest beyond
    ``UNMATCHED_KEPT``; nothing when the handler was deleted meanwhile."""
    arguments, problem = _kept_arguments(call)
    with write_session(engine) as session:
        if session.get(Handler, handler_id) is None:
            return
        session.add(
            UnmatchedCall(
                handler_id=handler_id,
                handler_version=handler_version,
                agent_id=call.agent_id,
                tool_name=call.tool_name,
                task_id=call.task_id,
                round=call.round,
                tool_call_id=call.tool_call_id,
                arguments=arguments,
                arguments_problem=problem,
                by_default=answer.note == "default",
                is_error=answer.is_error,
                output=answer.output[:OUTPUT_KEPT],
                nearest=answer.nearest,
                at=time.time(),
            )
        )
        session.flush()
        session.execute(
            text(
                "DELETE FROM unmatched_call WHERE handler_id = :handler AND id <= (SELECT id FROM unmatched_call "
                "WHERE handler_id = :handler ORDER BY id DESC LIMIT 1 OFFSET :kept)"
            ),
            {"handler": handler_id, "kept": UNMATCHED_KEPT},
        )


def list_unmatched(*, engine: Engine, handler_id: int, limit: int = UNMATCHED_KEPT) -> list[UnmatchedCallPublic]:
    """The handler's unmatched calls, newest first, at most ``limit``; raises ``NotFound`` for an unknown handler."""
    with read_session(engine) as session:
        if session.get(Handler, handler_id) is None:
            raise NotFound(f"no handler with id {handler_id}")
        rows = session.exec(
            select(UnmatchedCall)
            .where(UnmatchedCall.handler_id == handler_id)
            .order_by(col(UnmatchedCall.id).desc())
            .limit(limit)
        ).all()
        return [UnmatchedCallPublic.model_validate(row, from_attributes=True) for row in rows]


def unmatched_mark(*, engine: Engine, handler_id: int) -> tuple[int, int]:
    """``(count, newest id)`` of the handler's unmatched calls (``(0, 0)`` without any): a page redraws its list
    only when this changes."""
    with read_session(engine) as session:
        count, newest = session.exec(
            select(func.count(), func.max(UnmatchedCall.id)).where(UnmatchedCall.handler_id == handler_id)
        ).one()
        return int(count), int(newest or 0)


def clear_unmatched(*, engine: Engine, handler_id: int) -> int:
    """Forget every unmatched call of the handler; how many there were. Raises ``NotFound`` for an unknown handler."""
    with write_session(engine) as session:
        if session.get(Handler, handler_id) is None:
            raise NotFound(f"no handler with id {handler_id}")
        result = session.execute(delete(UnmatchedCall).where(col(UnmatchedCall.handler_id) == handler_id))
        return int(getattr(result, "rowcount", 0) or 0)


def forget_unmatched(*, engine: Engine, handler_id: int, arguments: list[dict[str, Any]]) -> int:
    """Forget the handler's unmatched calls with any of these ``arguments`` (after a rule for them was saved); how
    many."""
    wanted = {canonical_json(a) for a in arguments}
    with write_session(engine) as session:
        rows = session.exec(select(UnmatchedCall).where(UnmatchedCall.handler_id == handler_id)).all()
        gone = [row for row in rows if row.arguments is not None and canonical_json(row.arguments) in wanted]
        for row in gone:
            session.delete(row)
        return len(gone)


def rule_for_unmatched(*, engine: Engine, handler_id: int, unmatched_id: int) -> Rule:
    """The rule *New rule from this call* adds: an equals condition per argument, an empty text answer.

    Raises ``NotFound`` (no such unmatched call of this handler) and ``HandlerInvalid`` when its arguments were not
    kept (not a JSON object, case C10, or too long): a rule from ``{}`` would match every call."""
    row = _unmatched_call(engine, handler_id, unmatched_id)
    if row.arguments is None:
        raise HandlerInvalid(
            f"the arguments of {row.tool_call_id} are {row.arguments_problem}: a rule needs arguments to match on; "
            "add a default or an `any` rule instead"
        )
    return rule_from_answer(tool_name=row.tool_name, args=row.arguments, output="", is_error=False)


def save_rule_from_unmatched(
    *, engine: Engine, handler_id: int, unmatched_id: int, output: Any, is_error: bool
) -> HandlerPublic:
    """Add the rule for an unmatched call, answering ``output`` (a template: text, or a JSON value with string
    templates), as the handler's next version; then forget the unmatched calls with the same arguments. Raises
    what ``rule_for_unmatched`` and ``rule_edits.append_rule`` raise."""
    rule = rule_for_unmatched(engine=engine, handler_id=handler_id, unmatched_id=unmatched_id)
    rule.response.output, rule.response.is_error = output, is_error
    row = _unmatched_call(engine, handler_id, unmatched_id)
    saved = rule_edits.append_rule(
        engine=engine,
        handler_id=handler_id,
        rule=rule,
        note=added_rule_note(rule.name, task_id=row.task_id, round_=row.round),
    )
    forget_unmatched(engine=engine, handler_id=handler_id, arguments=[row.arguments or {}])
    return saved


def added_rule_note(rule_name: str, *, task_id: int, round_: int) -> str:
    """The version note of a save that adds a rule for an unmatched call: the same from the API and the editor."""
    return f"added rule {rule_name!r} from an unmatched call (run {task_id}, round {round_})"


def _unmatched_call(engine: Engine, handler_id: int, unmatched_id: int) -> UnmatchedCall:
    with read_session(engine) as session:
        row = session.get(UnmatchedCall, unmatched_id)
    if row is None or row.handler_id != handler_id:
        raise NotFound(f"handler {handler_id} has no unmatched call {unmatched_id} (cleared, or one of the oldest)")
    return row


def _kept_arguments(call: CallInput) -> tuple[dict[str, Any] | None, str | None]:
    if call.args_problem is not None:
        return None, call.args_problem
    size = len(json.dumps(call.args, ensure_ascii=False))
    if size > ARGUMENTS_KEPT:
        return None, f"not kept: {size:,} characters of JSON (over {ARGUMENTS_KEPT:,})"
    return call.args, None
