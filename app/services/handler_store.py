"""Handlers: how each tool of each agent is answered, with a version history.

A save (settings or mode) that changes something writes a new ``HandlerVersion``;
one that changes nothing writes none and keeps the version number. Restoring an
old version saves it again as the newest (when it differs from the current one). Settings are checked before they are
stored: a bad regex, JMESPath expression, template or Python syntax error is a
``HandlerInvalid`` (422) whose message names the rule, field and line.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any, Literal

from pydantic import BaseModel, Field, ValidationError
from sqlalchemy import Engine
from sqlmodel import Session, col, delete, select

from app.db import read_session, write_session
from app.errors import HandlerInvalid, NotFound, field_problem
from app.handlers.faults import Behaviour
from app.handlers.rules import RulesSpec, check_rules, rule_from_answer
from app.handlers.sandbox import check_snippet
from app.handlers.static import StaticSpec
from app.json_values import MAX_SETTINGS_DEPTH, canonical_json, json_value_problem, same_json
from app.models import Handler, HandlerPublic, HandlerVersion, Round, RuleCount, ToolCallRow
from app.services.rounds import get_round
from app.states import HandlerKind, HandlerMode


class HandlerIn(BaseModel):
    """What a save sends: ``spec`` by kind (``StaticSpec``, ``RulesSpec``, ``{"code": "..."}``)."""

    agent_id: str = Field(min_length=1, max_length=200)
    tool_name: str = Field(min_length=1, max_length=200)
    kind: HandlerKind
    mode: HandlerMode = HandlerMode.MANUAL
    spec: dict[str, Any] = Field(default_factory=dict)
    behaviour: dict[str, Any] = Field(default_factory=dict)
    note: str = Field(default="", max_length=500)


class VersionPublic(BaseModel):
    version: int
    kind: HandlerKind
    mode: HandlerMode
    spec: dict[str, Any]
    behaviour: dict[str, Any]
    saved_at: float
    note: str


def list_handlers(*, engine: Engine, agent_id: str | None = None) -> list[HandlerPublic]:
    """All handlers (or one agent's), by agent and tool name."""
    query = select(Handler).order_by(col(Handler.agent_id), col(Handler.tool_name))
    if agent_id is not None:
        query = query.where(Handler.agent_id == agent_id)
    with read_session(engine) as session:
        return [HandlerPublic.model_validate(row, from_attributes=True) for row in session.exec(query).all()]


def get_handler(*, engine: Engine, handler_id: int) -> HandlerPublic:
    """One handler; raises ``NotFound``."""
    with read_session(engine) as session:
        row = session.get(Handler, handler_id)
        if row is None:
            raise NotFound(f"no handler with id {handler_id}")
        return HandlerPublic.model_validate(row, from_attributes=True)


def save_handler(*, engine: Engine, handler: HandlerIn) -> HandlerPublic:
    """Create or update the handler of ``(agent_id, tool_name)``: a new version when the kind, mode, spec or
    behaviour differ from the current one, else the current handler unchanged. Raises ``HandlerInvalid`` (422)."""
    spec, behaviour = validate(handler)
    with write_session(engine) as session:
        row, _outcome = store_version(session, handler=handler, spec=spec, behaviour=behaviour, note=handler.note)
        return HandlerPublic.model_validate(row, from_attributes=True)


def store_version(
    session: Session, *, handler: HandlerIn, spec: dict[str, Any], behaviour: dict[str, Any], note: str
) -> tuple[Handler, Literal["created", "updated", "unchanged"]]:
    """Write checked settings as the handler's next version inside the caller's transaction; settings equal to
    the current version write nothing (``"unchanged"``)."""
    now = time.time()
    row = session.exec(
        select(Handler).where(Handler.agent_id == handler.agent_id, Handler.tool_name == handler.tool_name)
    ).first()
    if row is not None and same_json(
        (row.kind, row.mode, row.spec, row.behaviour), (handler.kind, handler.mode, spec, behaviour)
    ):
        return row, "unchanged"
    outcome: Literal["created", "updated"] = "updated" if row is not None else "created"
    if row is None:
        row = Handler(
            agent_id=handler.agent_id, tool_name=handler.tool_name, kind=handler.kind, version=0, updated_at=now
        )
    row.kind, row.mode, row.spec, row.behaviour = handler.kind, handler.mode, spec, behaviour
    row.version += 1
    row.updated_at = now
    session.add(row)
    session.flush()
    assert row.id is not None
    session.add(
        HandlerVersion(
            handler_id=row.id,
            version=row.version,
            kind=row.kind,
            mode=row.mode,
            spec=spec,
            behaviour=behaviour,
            saved_at=now,
            note=note,
        )
    )
    return row, outcome


def set_mode(*, engine: Engine, handler_id: int, mode: HandlerMode) -> HandlerPublic:
    """Switch a handler between manual, suggest and auto (a new version unless it already has ``mode``); raises
    ``NotFound``."""
    current = get_handler(engine=engine, handler_id=handler_id)
    keep = current.model_dump(include={"agent_id", "tool_name", "kind", "spec", "behaviour"})
    return save_handler(engine=engine, handler=HandlerIn(**keep, mode=mode, note=f"mode {current.mode} → {mode}"))


def delete_handler(*, engine: Engine, handler_id: int) -> None:
    """Remove a handler and its history (its versions go with it: ``ON DELETE CASCADE``) and its rules' counts; its
    tool is answered by a person again."""
    with write_session(engine) as session:
        row = session.get(Handler, handler_id)
        if row is None:
            raise NotFound(f"no handler with id {handler_id}")
        session.delete(row)
        session.exec(
            delete(RuleCount).where(col(RuleCount.agent_id) == row.agent_id, col(RuleCount.tool_name) == row.tool_name)
        )


def list_versions(*, engine: Engine, handler_id: int) -> list[VersionPublic]:
    """A handler's saved versions, newest first."""
    with read_session(engine) as session:
        rows = session.exec(
            select(HandlerVersion)
            .where(HandlerVersion.handler_id == handler_id)
            .order_by(col(HandlerVersion.version).desc())
        ).all()
        return [VersionPublic.model_validate(row, from_attributes=True) for row in rows]


def restore_version(*, engine: Engine, handler_id: int, version: int) -> HandlerPublic:
    """Save an old version again as the newest; raises ``NotFound``."""
    current = get_handler(engine=engine, handler_id=handler_id)
    old = next((v for v in list_versions(engine=engine, handler_id=handler_id) if v.version == version), None)
    if old is None:
        raise NotFound(f"handler {handler_id} has no version {version}")
    return save_handler(
        engine=engine,
        handler=HandlerIn(
            agent_id=current.agent_id,
            tool_name=current.tool_name,
            kind=old.kind,
            mode=old.mode,
            spec=old.spec,
            behaviour=old.behaviour,
            note=f"restored version {version}",
        ),
    )


def save_answer_as_rule(
    *, engine: Engine, agent_id: str, tool_name: str, args: dict[str, Any], output: str, is_error: bool
) -> HandlerPublic:
    """Turn a person's answer into a rule matching those arguments (first in the list, so it wins).

    A tool without a handler gets a rules handler in *suggest* mode; a rules handler gets the rule added;
    a static or python handler is left alone (``HandlerInvalid``: switch it to rules first).
    """
    rule = rule_from_answer(tool_name=tool_name, args=args, output=output, is_error=is_error)
    existing = next((h for h in list_handlers(engine=engine, agent_id=agent_id) if h.tool_name == tool_name), None)
    if existing is not None and existing.kind != HandlerKind.RULES:
        raise HandlerInvalid(f"{tool_name} has a {existing.kind} handler: switch it to rules to save answers as rules")
    spec = RulesSpec.model_validate(existing.spec) if existing is not None else RulesSpec()
    spec.rules.insert(0, rule)
    return save_handler(
        engine=engine,
        handler=HandlerIn(
            agent_id=agent_id,
            tool_name=tool_name,
            kind=HandlerKind.RULES,
            mode=existing.mode if existing else HandlerMode.SUGGEST,
            spec=spec.model_dump(mode="json"),
            behaviour=existing.behaviour if existing else {},
            note=f"saved an answer as rule {rule.name!r}",
        ),
    )


def save_result_as_rule(*, engine: Engine, round_id: int, tool_call_id: str) -> HandlerPublic:
    """``save_answer_as_rule`` for the answer a round's call received; raises ``NotFound`` when the round,
    the call or its answer does not exist, ``HandlerInvalid`` when the call's arguments did not parse (case C10)."""
    answered = get_round(engine=engine, round_id=round_id)
    call = next((c for c in answered.tool_calls if c.tool_call_id == tool_call_id), None)
    result = next((r for r in answered.results if r.tool_call_id == tool_call_id), None)
    if call is None or result is None:
        raise NotFound(f"round {round_id} has no answered call {tool_call_id}: answer it first")
    if call.arguments_problem is not None:  # a rule from {} would match every call
        raise HandlerInvalid(
            f"{tool_call_id}'s arguments are {call.arguments_problem}: a rule needs arguments to match on; "
            "write a default or an `any` rule on the Handlers page instead"
        )
    return save_answer_as_rule(
        engine=engine,
        agent_id=answered.agent_id,
        tool_name=call.name,
        args=call.arguments,
        output=result.output,
        is_error=result.is_error,
    )


@dataclass(frozen=True)
class PastCall:
    """One earlier call of a tool: where it came from and its arguments."""

    task_id: int
    round: int
    arguments: dict[str, Any]


def list_past_calls(*, engine: Engine, agent_id: str, tool_name: str, limit: int = 10) -> list[PastCall]:
    """The latest distinct arguments the agent called the tool with, newest first (samples for *Test*)."""
    with read_session(engine) as session:
        rows = session.exec(
            select(ToolCallRow, Round)
            .join(Round, col(Round.id) == col(ToolCallRow.round_id))
            .where(Round.agent_id == agent_id, ToolCallRow.name == tool_name)
            .order_by(col(ToolCallRow.id).desc())
            .limit(limit * 5)
        ).all()
    seen: set[str] = set()
    past: list[PastCall] = []
    for call, round_ in rows:
        key = canonical_json(call.arguments)
        if key not in seen and len(past) < limit:
            seen.add(key)
            past.append(PastCall(task_id=round_.task_id, round=round_.round, arguments=call.arguments))
    return past


def validate(handler: HandlerIn) -> tuple[dict[str, Any], dict[str, Any]]:
    """The normalised ``(spec, behaviour)``; raises ``HandlerInvalid`` naming the first problems, first a value
    ``app.json_values.json_value_problem`` refuses (NaN, a lone surrogate, more than ``MAX_SETTINGS_DEPTH``
    levels)."""
    for field, value in (("spec", handler.spec), ("behaviour", handler.behaviour)):
        problem = json_value_problem(value, max_depth=MAX_SETTINGS_DEPTH)  # stored, it could not be written back
        if problem is not None:
            raise HandlerInvalid(f"{field}: {problem}")
    try:
        return _validate(handler)
    except (RecursionError, MemoryError):
        raise HandlerInvalid(
            "the settings are nested too deeply to check (a pattern, template or expression)"
        ) from None


def _validate(handler: HandlerIn) -> tuple[dict[str, Any], dict[str, Any]]:
    try:
        behaviour = Behaviour.model_validate(handler.behaviour).model_dump()
        if handler.kind == HandlerKind.STATIC:
            return StaticSpec.model_validate(handler.spec).model_dump(), behaviour
        if handler.kind == HandlerKind.RULES:
            rules = RulesSpec.model_validate(handler.spec)
            problems = [problem.text for problem in check_rules(rules)]
            if problems:
                raise HandlerInvalid("; ".join(problems[:5]))
            return rules.model_dump(mode="json"), behaviour
        code = handler.spec.get("code")
        if not isinstance(code, str) or not code.strip():
            raise HandlerInvalid(
                "a python handler needs spec.code: the source of `async def handle(args, agent_id, task_id)`"
            )
        snippet = check_snippet(code)
        if snippet:
            raise HandlerInvalid("; ".join(_where(p.line) + p.message for p in snippet[:5]))
        return {"code": code}, behaviour
    except ValidationError as exc:
        raise HandlerInvalid(field_problem(exc, where=handler.kind)) from None


def _where(line: int | None) -> str:
    return f"line {line}: " if line else ""
