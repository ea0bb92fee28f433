"""Cassettes: recording a run's tool calls and the results they got, importing and exporting them as JSON, and
choosing the one that plays back on an agent's new runs (``app.services.playback`` answers the calls).

The document (``CassetteDocument``; what *Download* gives and *Import* takes)::

    {"format": "tooldesk-cassette", "version": 1, "name": "trip-planner-run-1001",
     "agent_id": "3f1c2a7e-5b8d-4e0a-9c61-0c1e2d3a4b02", "recorded_from": 1001,
     "recorded_at": "2026-12-01T07:00:00Z",
     "entries": [{"round": 1, "tool_name": "get_weather", "arguments": {"city": "Bergen"},
                  "output": "Rain, 8 °C", "is_error": false}, ...]}

Entries are the run's answered rounds in order, each round's calls in the order the platform sent them, with the
result each call got. A name is ``<agent>-run-<task_id>`` (the agent's name in lowercase, words joined by ``-``),
with ``-2``, ``-3`` ... when taken; an imported document keeps its name the same way, made file-safe (letters,
digits, ``.``, ``_``, ``-``; anything else becomes ``-``), cut so that with its ``-N`` it has at most 120
characters. Errors: ``NotFound`` (404), ``BadRequest`` (422) naming the problem: a run with no answered round, a
file that is too big, not JSON (``NaN`` and ``Infinity`` included), not a cassette, or with arguments nested more
than 100 levels deep or holding a lone UTF-16 surrogate (``app.json_values.json_value_problem``).
"""

from __future__ import annotations

import json
import re
import time
from datetime import UTC, datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError
from sqlalchemy import Engine
from sqlmodel import Session, col, select

from app.db import read_session, write_session
from app.errors import BadRequest, NotFound, field_problems
from app.json_values import JsonObject
from app.models import Agent, Cassette, CassetteRun, Round, Run, ToolCallRow, ToolResultRow
from app.states import CassetteMatching

FORMAT = "tooldesk-cassette"
MAX_DOCUMENT_BYTES = 2_000_000
"""Bytes an imported cassette may have (a recorded one is bounded by the run's own rounds)."""
MAX_ENTRIES = 10_000
MAX_NAME = 120
"""Characters of a cassette's name, a ``-N`` added to make it unique included."""


class CassetteEntry(BaseModel):
    """One tool call and the result it got: ``round`` is where it was recorded (informational)."""

    model_config = ConfigDict(extra="forbid")

    round: int = Field(default=1, ge=1)
    tool_name: str = Field(min_length=1, max_length=200)
    arguments: JsonObject = Field(default_factory=dict)
    output: str
    is_error: bool = False


class CassetteDocument(BaseModel):
    """A cassette as a file; the module docstring shows one."""

    model_config = ConfigDict(extra="forbid")

    format: Literal["tooldesk-cassette"] = "tooldesk-cassette"
    version: Literal[1] = 1
    name: str = Field(min_length=1, max_length=MAX_NAME)
    agent_id: str = Field(min_length=1, max_length=200)
    recorded_from: int | None = None
    recorded_at: str | None = None
    entries: list[CassetteEntry] = Field(min_length=1, max_length=MAX_ENTRIES)


class CassettePublic(BaseModel):
    """A cassette in a list: ``entries`` counted, ``tools`` the tool names it answers; ``playing`` (with
    ``matching``): the agent's playback source."""

    id: int
    name: str
    agent_id: str
    agent_name: str | None
    recorded_from: int | None
    created_at: float
    entries: int
    tools: list[str]
    playing: bool
    matching: CassetteMatching


def record_run(*, engine: Engine, task_id: int) -> CassettePublic:
    """Record run ``task_id``'s answered rounds as a new cassette. Raises ``NotFound`` or ``BadRequest`` (no round
    of the run has been answered yet)."""
    with write_session(engine) as session:
        run = session.get(Run, task_id)
        if run is None:
            raise NotFound(f"no run with task_id {task_id}")
        entries = _recorded_entries(session, task_id)
        if not entries:
            raise BadRequest(f"run {task_id} has no answered round yet: answer one, then record it")
        agent = session.get(Agent, run.agent_id)
        base = f"{_slug(agent.name if agent else run.agent_id)}-run-{task_id}"
        row = Cassette(
            name=_free_name(session, base),
            agent_id=run.agent_id,
            recorded_from=task_id,
            created_at=time.time(),
            entries=[entry.model_dump() for entry in entries],
        )
        session.add(row)
        session.flush()
        return _public(session, row)


def import_cassette(*, engine: Engine, document: bytes | str) -> CassettePublic:
    """Check ``document`` (JSON text, at most ``MAX_DOCUMENT_BYTES``) and store it as a new cassette; raises
    ``BadRequest`` naming the problem ("entries[2].output: Field required")."""
    parsed = parse_document(document)
    with write_session(engine) as session:
        row = Cassette(
            name=_free_name(session, _file_safe(parsed.name)),
            agent_id=parsed.agent_id,
            recorded_from=parsed.recorded_from,
            created_at=time.time(),
            entries=[entry.model_dump() for entry in parsed.entries],
        )
        session.add(row)
        session.flush()
        return _public(session, row)


def parse_document(document: bytes | str) -> CassetteDocument:
    """The cassette in ``document``, checked for size, encoding, JSON, format, version and shape."""
    size = len(document.encode() if isinstance(document, str) else document)
    if size > MAX_DOCUMENT_BYTES:
        raise BadRequest(f"the file is {size:,} bytes (limit {MAX_DOCUMENT_BYTES:,}): is it a cassette?")
    try:
        data = json.loads(document.decode("utf-8") if isinstance(document, bytes) else document, parse_constant=_no_nan)
    except UnicodeDecodeError as exc:
        raise BadRequest(f"the file is not UTF-8 text (byte {exc.start}): a cassette is UTF-8 JSON") from None
    except json.JSONDecodeError as exc:
        raise BadRequest(f"the file is not JSON: line {exc.lineno}, column {exc.colno}: {exc.msg}") from None
    except ValueError as exc:  # a NaN or Infinity
        raise BadRequest(f"the file is not JSON: {exc}: nothing was imported") from None
    except RecursionError:
        raise BadRequest("the file is nested too deeply to read: is it a cassette?") from None
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        raise BadRequest(f'the file is not a Tooldesk cassette: expected a JSON object with "format": "{FORMAT}"')
    if data.get("version") != 1 or type(data.get("version")) is not int:
        raise BadRequest(f"version: {data.get('version')!r} is not supported (this console reads version 1)")
    try:
        return CassetteDocument.model_validate(data)
    except ValidationError as exc:
        problems = field_problems(exc, where="file", brackets=True)
        more = f" (and {len(problems) - 3} more)" if len(problems) > 3 else ""
        raise BadRequest("; ".join(problems[:3]) + more + ": nothing was imported") from None


def _no_nan(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON number (RFC 8259 has no NaN or Infinity)")


def list_cassettes(*, engine: Engine, agent_id: str | None = None) -> list[CassettePublic]:
    """Every cassette (of ``agent_id`` when given), newest first."""
    query = select(Cassette).order_by(col(Cassette.id).desc())
    if agent_id is not None:
        query = query.where(Cassette.agent_id == agent_id)
    with read_session(engine) as session:
        return [_public(session, row) for row in session.exec(query).all()]


def get_cassette(*, engine: Engine, cassette_id: int) -> CassettePublic:
    with read_session(engine) as session:
        return _public(session, _get(session, cassette_id))


def cassette_document(*, engine: Engine, cassette_id: int) -> CassetteDocument:
    """The cassette as a file (``CassetteDocument``); raises ``NotFound``, and ``BadRequest`` for one stored before
    its name's length and its arguments were checked that fails those checks."""
    with read_session(engine) as session:
        row = _get(session, cassette_id)
        try:
            return CassetteDocument(
                name=row.name,
                agent_id=row.agent_id,
                recorded_from=row.recorded_from,
                recorded_at=datetime.fromtimestamp(row.created_at, UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
                entries=[CassetteEntry.model_validate(entry) for entry in row.entries],
            )
        except ValidationError as exc:
            problem = field_problems(exc, where="cassette", brackets=True)[0]
            raise BadRequest(f"cassette {cassette_id} cannot be written as a file ({problem}): delete it") from None


def delete_cassette(*, engine: Engine, cassette_id: int) -> None:
    """Remove a cassette; runs it was answering go on without it (their next rounds wait for a person)."""
    with write_session(engine) as session:
        row = _get(session, cassette_id)
        for binding in session.exec(select(CassetteRun).where(CassetteRun.cassette_id == cassette_id)).all():
            session.delete(binding)
        session.delete(row)


def set_playback(
    *, engine: Engine, agent_id: str, cassette_id: int | None, matching: CassetteMatching = CassetteMatching.STRICT
) -> CassettePublic | None:
    """Make cassette ``cassette_id`` the agent's playback source with ``matching`` (``None``: no playback): it
    answers the agent's runs created from now on. Raises ``NotFound`` (an unknown cassette, or an agent neither listed
    by the platform nor recorded), ``BadRequest`` for another agent's cassette."""
    now = time.time()
    with write_session(engine) as session:
        recorded = session.exec(select(Cassette.id).where(Cassette.agent_id == agent_id)).first()
        if recorded is None and session.get(Agent, agent_id) is None:
            raise NotFound(f"no agent {agent_id!r}: the Agents page lists the platform's agents")
        chosen = None if cassette_id is None else _get(session, cassette_id)
        if chosen is not None and chosen.agent_id != agent_id:
            raise BadRequest(f"cassette {chosen.name} was recorded for agent {chosen.agent_id}, not {agent_id}")
        for row in session.exec(select(Cassette).where(Cassette.agent_id == agent_id, col(Cassette.playing))).all():
            if row is not chosen:
                row.playing, row.playing_since = False, None
                session.add(row)
        if chosen is None:
            return None
        if not chosen.playing:
            chosen.playing, chosen.playing_since = True, now
        chosen.matching = matching
        session.add(chosen)
        session.flush()
        return _public(session, chosen)


def playback_of(*, engine: Engine, agent_id: str) -> CassettePublic | None:
    """The agent's playback source, or ``None``."""
    with read_session(engine) as session:
        row = session.exec(select(Cassette).where(Cassette.agent_id == agent_id, col(Cassette.playing))).first()
        return None if row is None else _public(session, row)


def _recorded_entries(session: Session, task_id: int) -> list[CassetteEntry]:
    entries = []
    for round_ in session.exec(select(Round).where(Round.task_id == task_id).order_by(col(Round.round))).all():
        results = {
            r.tool_call_id: r for r in session.exec(select(ToolResultRow).where(ToolResultRow.round_id == round_.id))
        }
        calls = session.exec(
            select(ToolCallRow).where(ToolCallRow.round_id == round_.id).order_by(col(ToolCallRow.position))
        ).all()
        for call in calls:
            result = results.get(call.tool_call_id)
            if result is not None:
                entries.append(
                    CassetteEntry(
                        round=round_.round,
                        tool_name=call.name,
                        arguments=call.arguments,
                        output=result.output,
                        is_error=result.is_error,
                    )
                )
    return entries


def _get(session: Session, cassette_id: int) -> Cassette:
    row = session.get(Cassette, cassette_id)
    if row is None:
        raise NotFound(f"no cassette with id {cassette_id}")
    return row


def _public(session: Session, row: Cassette) -> CassettePublic:
    assert row.id is not None
    agent = session.get(Agent, row.agent_id)
    return CassettePublic(
        id=row.id,
        name=row.name,
        agent_id=row.agent_id,
        agent_name=agent.name if agent else None,
        recorded_from=row.recorded_from,
        created_at=row.created_at,
        entries=len(row.entries),
        tools=sorted({str(entry.get("tool_name")) for entry in row.entries}),
        playing=row.playing,
        matching=row.matching,
    )


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")[:80] or "agent"


def _file_safe(name: str) -> str:
    """``name`` usable as a file name and in a header: letters, digits, ``.``, ``_`` and ``-`` only."""
    return re.sub(r"[^A-Za-z0-9._-]+", "-", name).strip("-.") or "cassette"


def _free_name(session: Session, base: str) -> str:
    """``base``, else ``base-2``, ``base-3`` ... with ``base`` cut so the name stays within ``MAX_NAME`` (a longer
    name could be stored but not read back as a ``CassetteDocument``)."""
    base = base[:MAX_NAME]
    n = 1
    while True:
        suffix = f"-{n}" if n > 1 else ""
        name = base[: MAX_NAME - len(suffix)] + suffix
        if session.exec(select(Cassette.id).where(Cassette.name == name)).first() is None:
            return name
        n += 1
