"""Exporting and importing the console's configuration (agents and handlers) as one JSON document.

The document (``ConfigDocument``; ``format`` and ``version`` are checked first)::

    {
      "format": "tooldesk-config",
      "version": 1,
      "exported_at": "2026-11-29T17:00:00Z",
      "agents": [
        {"agent_id": "3f1c2a7e-5b8d-4e0a-9c61-0c1e2d3a4b01", "name": "Clock", "description": "Tells the time",
         "tools": [{"name": "get_current_time", "description": "The time in a timezone",
                    "parameters": {"type": "object", "properties": {"timezone": {"type": "string"}}}}],
         "inputs": [{"key": "1", "label": "Question", "default": ""}]}
      ],
      "handlers": [
        {"agent_id": "3f1c2a7e-5b8d-4e0a-9c61-0c1e2d3a4b01", "tool_name": "get_current_time",
         "kind": "static", "mode": "auto", "spec": {"output": "12:00 UTC", "is_error": false},
         "behaviour": {"latency_ms": 0, "latency_max_ms": null, "fail_probability": 0.0,
                       "fail_message": "simulated failure"}}
      ]
    }

``agents`` are the agents as last listed by the platform; ``handlers`` the current version of every
handler (``kind`` static, rules or python; ``mode`` manual, suggest or auto; ``spec`` and
``behaviour`` as in ``app.handlers.static``/``rules``/``sandbox`` and ``app.handlers.faults``).
Version histories are not exported. ``exported_at`` is informational (ISO-8601, UTC).

Import is all-or-nothing: the document is parsed (at most ``MAX_DOCUMENT_BYTES``), every handler
is checked as a save would check it, and only then is everything written in one transaction.
Agents are created or overwritten (name, description, tools, inputs); each handler is saved as a
new version with the note "imported", unless it equals the current version (then it is left
alone and counted as unchanged). Nothing is deleted: handlers absent from the document stay.
Errors: ``BadRequest`` (422) for a document that is not JSON or not of this shape, naming the
place ("handlers[2].kind: ..."); ``HandlerInvalid`` (422) for a handler a save would refuse,
prefixed with its position and ``agent/tool``.
"""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime
from typing import Any, Final, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError
from sqlalchemy import Engine
from sqlmodel import Session, col, select

from app.db import read_session, write_session
from app.errors import BadRequest, HandlerInvalid, field_problem, field_problems
from app.models import Agent
from app.services import handler_store
from app.services.handler_store import HandlerIn, store_version
from app.states import HandlerKind, HandlerMode

FORMAT: Final = "tooldesk-config"
VERSION: Final = 1
MAX_DOCUMENT_BYTES = 5_000_000
IMPORT_NOTE = "imported"
_SHOWN_PROBLEMS = 5


class ToolConfig(BaseModel):
    """A tool of an agent: ``parameters`` is the JSON Schema of its arguments (extra fields are kept)."""

    model_config = ConfigDict(extra="allow")

    name: str = Field(min_length=1)
    description: str = ""
    parameters: dict[str, Any] = Field(default_factory=dict)


class InputConfig(BaseModel):
    """A string input an agent declares (extra fields are kept)."""

    model_config = ConfigDict(extra="allow")

    key: str
    label: str = ""
    default: str = ""


class AgentConfig(BaseModel):
    """An agent as last listed by the platform."""

    model_config = ConfigDict(extra="forbid")

    agent_id: str = Field(min_length=1, max_length=200)
    name: str
    description: str = ""
    tools: list[ToolConfig] = []
    inputs: list[InputConfig] = []


class HandlerConfig(BaseModel):
    """The current version of one handler (see ``app.services.handler_store.HandlerIn``)."""

    model_config = ConfigDict(extra="forbid")

    agent_id: str
    tool_name: str
    kind: HandlerKind
    mode: HandlerMode = HandlerMode.MANUAL
    spec: dict[str, Any] = Field(default_factory=dict)
    behaviour: dict[str, Any] = Field(default_factory=dict)


class ConfigDocument(BaseModel):
    """Everything the console is configured with; the module docstring shows an example."""

    model_config = ConfigDict(extra="forbid")

    format: Literal["tooldesk-config"] = "tooldesk-config"
    version: Literal[1] = 1
    exported_at: str | None = None
    agents: list[AgentConfig] = []
    handlers: list[HandlerConfig] = []


class ImportReport(BaseModel):
    """What an import did: ``agents`` written (created or overwritten), handlers created, updated
    (a new version) and ``unchanged`` (identical to their current version, left alone)."""

    agents: int = 0
    handlers_created: int = 0
    handlers_updated: int = 0
    unchanged: int = 0

    @property
    def summary(self) -> str:
        """One line for a notification: "2 agents, 3 handlers created, 1 updated, 4 unchanged"."""
        return (
            f"{self.agents} agent{'s' * (self.agents != 1)}, {self.handlers_created} handler"
            f"{'s' * (self.handlers_created != 1)} created, {self.handlers_updated} updated, {self.unchanged} unchanged"
        )


def export_config(*, engine: Engine) -> ConfigDocument:
    """Every agent (by name) and the current version of every handler (by agent and tool) as one document."""
    with read_session(engine) as session:
        agents = session.exec(select(Agent).order_by(col(Agent.name), col(Agent.agent_id))).all()
        agent_configs = [
            AgentConfig(
                agent_id=row.agent_id,
                name=row.name,
                description=row.description,
                tools=[ToolConfig.model_validate(tool) for tool in row.tools],
                inputs=[InputConfig.model_validate(item) for item in row.inputs],
            )
            for row in agents
        ]
    handler_configs = [
        HandlerConfig.model_validate(
            handler.model_dump(include={"agent_id", "tool_name", "kind", "mode", "spec", "behaviour"})
        )
        for handler in handler_store.list_handlers(engine=engine)
    ]
    exported_at = datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")
    return ConfigDocument(exported_at=exported_at, agents=agent_configs, handlers=handler_configs)


def export_config_json(*, engine: Engine) -> str:
    """``export_config`` as indented JSON text (UTF-8, non-ASCII kept), ready to download as a file."""
    return export_config(engine=engine).model_dump_json(indent=2) + "\n"


def import_config(*, engine: Engine, document: ConfigDocument | dict[str, Any] | bytes | str) -> ImportReport:
    """Check ``document`` (a parsed document, a dict, or the JSON text/bytes) completely, then write all of it
    in one transaction. Raises ``BadRequest`` or ``HandlerInvalid`` before writing anything."""
    parsed = parse_config(document)
    checked = _check_handlers(parsed.handlers)
    now = time.time()
    report = ImportReport(agents=len(parsed.agents))
    with write_session(engine) as session:
        for agent in parsed.agents:
            _store_agent(session, agent, now)
        for handler, spec, behaviour in checked:
            outcome = _store_handler(session, handler, spec, behaviour, now)
            if outcome == "created":
                report.handlers_created += 1
            elif outcome == "updated":
                report.handlers_updated += 1
            else:
                report.unchanged += 1
    return report


def parse_config(document: ConfigDocument | dict[str, Any] | bytes | str) -> ConfigDocument:
    """The document checked for size, JSON syntax, format, version and shape; raises ``BadRequest``
    naming the place ("handlers[2].kind: Input should be 'static', 'rules' or 'python'")."""
    if isinstance(document, ConfigDocument):
        return document
    if isinstance(document, bytes | str):
        document = _load_json(document)
    if not isinstance(document, dict):
        raise BadRequest(
            f"the document is a JSON {_json_type(document)}, not an object: "
            f'expected {{"format": "{FORMAT}", "version": {VERSION}, "agents": [...], "handlers": [...]}}'
        )
    if document.get("format") != FORMAT:
        raise BadRequest(
            f"format: expected {FORMAT!r}, got {_short(document.get('format'))}: "
            "this is not a Tooldesk configuration export"
        )
    if type(document.get("version")) is not int or document.get("version") != VERSION:
        raise BadRequest(
            f"version: {_short(document.get('version'))} is not supported (this console reads version {VERSION}): "
            "export it again from this console's version, or update Tooldesk"
        )
    try:
        parsed = ConfigDocument.model_validate(document)
    except ValidationError as exc:
        problems = field_problems(exc, where="document", brackets=True)
        raise BadRequest(_join_problems(problems)) from None
    seen: dict[str, int] = {}
    duplicates = []
    for index, agent in enumerate(parsed.agents):
        if agent.agent_id in seen:
            duplicates.append(f"agents[{index}] ({agent.agent_id}): the same agent as agents[{seen[agent.agent_id]}]")
        seen.setdefault(agent.agent_id, index)
    if duplicates:
        raise BadRequest(_join_problems(duplicates) + ": keep one of each; nothing was imported")
    return parsed


def _load_json(raw: bytes | str) -> Any:
    size = len(raw.encode() if isinstance(raw, str) else raw)
    if size > MAX_DOCUMENT_BYTES:
        raise BadRequest(
            f"the document is {size:,} bytes (limit {MAX_DOCUMENT_BYTES:,}): is it the right file? "
            "Split it, or leave out agents you do not need"
        )
    try:
        return json.loads(raw)
    except json.JSONDecodeError as exc:
        raise BadRequest(f"the document is not JSON: line {exc.lineno}, column {exc.colno}: {exc.msg}") from None
    except UnicodeDecodeError as exc:
        raise BadRequest(f"the document is not UTF-8 text (byte {exc.start}): save it as UTF-8 JSON") from None
    except RecursionError:
        raise BadRequest("the document is nested too deeply to read: is it the right file?") from None


def _check_handlers(configs: list[HandlerConfig]) -> list[tuple[HandlerConfig, dict[str, Any], dict[str, Any]]]:
    """Every handler normalised as a save would store it; ``HandlerInvalid`` listing the first problems."""
    checked: list[tuple[HandlerConfig, dict[str, Any], dict[str, Any]]] = []
    problems: list[str] = []
    seen: dict[tuple[str, str], int] = {}
    for index, config in enumerate(configs):
        where = f"handlers[{index}] ({config.agent_id}/{config.tool_name})"
        key = (config.agent_id, config.tool_name)
        if key in seen:
            problems.append(f"{where}: the same tool as handlers[{seen[key]}]: keep one of them")
            continue
        seen[key] = index
        try:
            handler_in = handler_store.HandlerIn(**config.model_dump(), note=IMPORT_NOTE)
            spec, behaviour = handler_store.validate(handler_in)
        except ValidationError as exc:
            problems.append(f"{where}: {field_problem(exc, where='document', brackets=True)}")
        except HandlerInvalid as exc:
            problems.append(f"{where}: {exc.message}")
        else:
            checked.append((config, spec, behaviour))
    if problems:
        raise HandlerInvalid(_join_problems(problems) + "; nothing was imported")
    return checked


def _store_agent(session: Session, agent: AgentConfig, now: float) -> None:
    row = session.get(Agent, agent.agent_id) or Agent(agent_id=agent.agent_id, name=agent.name, synced_at=now)
    row.name = agent.name
    row.description = agent.description
    row.tools = [tool.model_dump() for tool in agent.tools]
    row.inputs = [item.model_dump() for item in agent.inputs]
    session.add(row)


def _store_handler(
    session: Session, config: HandlerConfig, spec: dict[str, Any], behaviour: dict[str, Any], now: float
) -> Literal["created", "updated", "unchanged"]:
    """Save one checked handler as a new version inside this transaction, unless it is the current one."""
    handler = HandlerIn(agent_id=config.agent_id, tool_name=config.tool_name, kind=config.kind, mode=config.mode)
    _row, outcome = store_version(session, handler=handler, spec=spec, behaviour=behaviour, note=IMPORT_NOTE)
    return outcome


def _join_problems(problems: list[str]) -> str:
    shown = "; ".join(problems[:_SHOWN_PROBLEMS])
    more = len(problems) - _SHOWN_PROBLEMS
    return f"{shown} (and {more} more)" if more > 0 else shown


def _json_type(value: Any) -> str:
    return {list: "array", str: "string", bool: "boolean", type(None): "null"}.get(type(value), "number")


def _short(value: Any) -> str:
    text = json.dumps(value, ensure_ascii=False, default=str) if value is not None else "nothing"
    return text if len(text) <= 40 else text[:39] + "…"
