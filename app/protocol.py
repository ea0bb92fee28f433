"""Pydantic models of the platform contract (``shared/CONTRACT.md``).

Parsing is tolerant where the contract says so:

- ``ToolCall.arguments`` accepts a JSON object or a JSON-encoded string of one
  ("some senders send it as a JSON-encoded string, and both must parse"); arguments that are neither are
  kept as text with the reason (case C10), never a refused status.
- ``status`` is any string: an unknown status is kept, shown, and treated as
  non-terminal ("A receiver must accept an unknown status string").
- Unknown extra fields are kept on every model (``extra='allow'``).
"""

from __future__ import annotations

import json
import math
import sys
from datetime import UTC, datetime
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, field_serializer, field_validator, model_validator

from app.states import TERMINAL_STATUSES, RunStatusName

KNOWN_STATUSES = (
    RunStatusName.QUEUED,
    RunStatusName.RUNNING,
    RunStatusName.AWAITING_TOOL_CALLS,
    *sorted(TERMINAL_STATUSES),
)
"""The run statuses the contract lists: the open ones in their order, then the terminal ones by name (``lost``
is the console's own)."""
AWAITING = RunStatusName.AWAITING_TOOL_CALLS
INT64_MAX = 2**63 - 1
"""The largest integer SQLite stores; ids above it are refused at the edge."""


def is_terminal(status: str) -> bool:
    """True for ``completed``, ``failed``, ``cancelled``, ``expired``; unknown strings are non-terminal."""
    return status in TERMINAL_STATUSES


class _Open(BaseModel):
    model_config = ConfigDict(extra="allow")


class ToolCall(_Open):
    """One call of a round: ``{"id", "name", "arguments"}``; ``arguments`` is always a dict after parsing.

    Arguments that do not parse to a JSON object (case C10: a truncated string such as ``{"city": "Os``, the
    string ``"null"``, a JSON array) never refuse the status: ``arguments`` is then ``{}``,
    ``arguments_text`` holds what was sent (the string as it came, any other value as JSON) and
    ``arguments_problem`` says why it is not an object ("not valid JSON: Unterminated string starting at (char 9)").
    Both are ``None`` for arguments that parsed; neither is a field on the wire (``exclude``; whatever a sender
    puts under those names is replaced), and a dump writes such ``arguments`` back as the text sent.
    """

    id: str = Field(min_length=1)
    name: str = Field(min_length=1)
    arguments: dict[str, Any] = Field(default_factory=dict)
    arguments_text: str | None = Field(default=None, exclude=True)
    arguments_problem: str | None = Field(default=None, exclude=True)

    @field_serializer("arguments")
    def _as_sent(self, arguments: dict[str, Any]) -> Any:
        """Arguments that did not parse are written back as the text sent, so a status re-sent (the simulator's
        deliveries, a status reply) carries what came, not ``{}``."""
        return self.arguments_text if self.arguments_problem is not None else arguments

    @model_validator(mode="before")
    @classmethod
    def _parse_arguments(cls, data: Any) -> Any:
        if not isinstance(data, dict):
            return data
        arguments, text, problem = parse_arguments(data.get("arguments"))
        return {**data, "arguments": arguments, "arguments_text": text, "arguments_problem": problem}


def parse_arguments(value: Any) -> tuple[dict[str, Any], str | None, str | None]:
    """``(arguments, text, problem)`` for a call's ``arguments`` as sent: an object, a JSON-encoded string of
    one (contract: "both must parse"), nothing (``{}``), or anything else, which gives ``{}``, the text sent and
    why it is not an object (case C10). Never raises."""
    if value is None:
        return {}, None, None
    if isinstance(value, dict):
        return _not_too_deep(value)
    if isinstance(value, str):
        if not value.strip():
            return {}, None, None
        try:
            parsed = json.loads(value, parse_constant=_refuse_constant)
        except json.JSONDecodeError as exc:
            return {}, value, f"not valid JSON: {exc.msg} (char {exc.pos})"
        except RecursionError:
            return {}, value, "nested too deeply to parse as JSON"
        if isinstance(parsed, dict):
            return _not_too_deep(parsed, value)
        return {}, value, f"valid JSON but not an object (a JSON {_json_kind(parsed)})"
    try:
        text = json.dumps(value, ensure_ascii=False)
    except (TypeError, ValueError, RecursionError):
        text = repr(value)[:10_000]
    return {}, text, f"not an object (a JSON {_json_kind(value)})"


MAX_ARGUMENTS_DEPTH = 100
"""Levels of nesting an object of arguments may have. Deeper ones are kept as text with a reason (case C10): the
JSON that carries them to pages and the API (pydantic's, about 250 levels for a whole answer) could not write them."""


def _not_too_deep(arguments: dict[str, Any], text: str | None = None) -> tuple[dict[str, Any], str | None, str | None]:
    if json_depth(arguments, MAX_ARGUMENTS_DEPTH) <= MAX_ARGUMENTS_DEPTH:
        return arguments, None, None
    try:
        sent = text if text is not None else json.dumps(arguments, ensure_ascii=False)
    except (TypeError, ValueError, RecursionError):
        sent = repr(arguments)[:10_000]
    return {}, sent, f"nested more than {MAX_ARGUMENTS_DEPTH} levels deep: too deep to read as arguments"


def json_depth(value: Any, limit: int) -> int:
    """How deep ``value`` nests (objects and arrays), counting no further than ``limit + 1``; no recursion."""
    deepest, level = 0, [(value, 1)]
    while level:
        item, depth = level.pop()
        if isinstance(item, dict | list):
            deepest = max(deepest, depth)
            if depth > limit:
                return deepest
            children = item.values() if isinstance(item, dict) else item
            level.extend((child, depth + 1) for child in children)
    return deepest


def _json_kind(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, str):
        return "string"
    return "array" if isinstance(value, list) else type(value).__name__


def _refuse_constant(name: str) -> Any:
    raise json.JSONDecodeError(f"{name} is not JSON (RFC 8259 has no NaN or Infinity)", name, 0)


def first_non_finite(value: Any, *, where: str = "body") -> str | None:
    """The path of the first NaN or infinite float, or integer beyond a double's range, in a parsed JSON value
    (``result.scores[2]``), or None.

    Python's and pydantic's JSON parsers accept ``NaN``, ``Infinity`` and ``1e400`` (read as infinity), which
    RFC 8259 does not allow and which SQLite's JSON functions cannot read back; an integer of 310 digits or more
    is the same number as ``1e400`` to anything that reads it as a double (RFC 8259, section 6: numbers beyond
    IEEE 754 double precision are not interoperable). Walks iteratively, so any depth is safe.
    """
    if not _has_non_finite(value):  # the common case, walked without making a path for each value
        return None
    stack: list[tuple[str, Any]] = [(where, value)]
    while stack:
        path, item = stack.pop()
        if _beyond_double(item):
            return path
        if isinstance(item, dict):
            stack.extend((f"{path}.{key}", child) for key, child in reversed(list(item.items())))
        elif isinstance(item, list | tuple):
            stack.extend((f"{path}[{index}]", child) for index, child in reversed(list(enumerate(item))))
    return None


def _has_non_finite(value: Any) -> bool:
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, float | int):
            if _beyond_double(item):
                return True
        elif isinstance(item, dict):
            stack.extend(item.values())
        elif isinstance(item, list | tuple):
            stack.extend(item)
    return False


def _beyond_double(item: Any) -> bool:
    """A NaN or infinite float, or an integer no float can hold (``10**400`` written out: SQLite keeps a bare one
    as an infinite REAL, which its JSON functions then cannot read)."""
    if isinstance(item, float):
        return not math.isfinite(item)
    return isinstance(item, int) and not isinstance(item, bool) and abs(item) > sys.float_info.max


class RunError(_Open):
    """``{"code": "...", "message": "..."}`` on ``failed`` or ``expired``."""

    code: str = "unknown"
    message: str = ""


class RunStatus(_Open):
    """AgentGraphRunStatusResponse: the webhook body and the status reply.

    Raises ``pydantic.ValidationError`` when a required field is missing or of
    the wrong type (``task_id`` a positive integer, ``agent_id`` a string).
    """

    agent_id: str = Field(min_length=1, max_length=200)
    task_id: int = Field(gt=0, le=INT64_MAX, strict=True)
    status: str = Field(min_length=1, max_length=100)
    sequence: int = Field(ge=0, le=INT64_MAX, strict=True)
    round: int | None = Field(default=None, ge=1, le=INT64_MAX, strict=True)
    tool_calls: list[ToolCall] | None = None
    expires_at: str | None = None
    result: Any = None
    error: RunError | None = None
    environment: str | None = None
    created_at: str | None = None
    updated_at: str | None = None

    @model_validator(mode="after")
    def _awaiting_has_a_round(self) -> RunStatus:
        """Contract: when awaiting, ``round`` is set and ``tool_calls`` is non-empty, ids unique in the task."""
        if self.status != AWAITING:
            return self
        if self.round is None:
            raise ValueError("status is awaiting_tool_calls but round is missing")
        if not self.tool_calls:
            raise ValueError("status is awaiting_tool_calls but tool_calls is missing or empty")
        ids = [call.id for call in self.tool_calls]
        repeated = sorted({call_id for call_id in ids if ids.count(call_id) > 1})
        if repeated:
            raise ValueError(f"tool call id {', '.join(repeated)} appears more than once in the round")
        return self


class ToolResult(BaseModel):
    """One answer: ``output`` is a string; ``is_error`` tells the model the tool failed."""

    model_config = ConfigDict(extra="forbid")

    tool_call_id: str = Field(min_length=1)
    output: str
    is_error: bool = False

    @field_validator("output", mode="before")
    @classmethod
    def _encode_objects(cls, value: Any) -> Any:
        """A handler that returns an object has it JSON-encoded (contract, "Tool results")."""
        if value is None:
            return ""
        if isinstance(value, str):
            return value
        return json.dumps(value, ensure_ascii=False)


class ToolResponses(BaseModel):
    """The body of ``send_tool_responses``: ``{"round": n, "results": [ToolResult, ...]}``."""

    round: int = Field(ge=1)
    results: list[ToolResult]


MAX_INPUT_CHARS = 100_000
"""A string input's limit: a run's statuses must stay under a receiver's 1 MB webhook body limit."""


class StartRun(BaseModel):
    """The body of ``start_agent_run``: string inputs keyed by input node id, and an environment."""

    string_inputs: dict[str, Annotated[str, Field(max_length=MAX_INPUT_CHARS)]] = Field(
        default_factory=dict, max_length=50
    )
    environment: str = Field(default="playground", min_length=1, max_length=100)


class StartRunWithExpiry(StartRun):
    """``StartRun`` plus ``round_ttl``: seconds each round of this run stays open before it expires. Not in the
    contract: an extension the simulators honour (``app.simulator``), so a robustness sweep's "no answer" runs end
    in seconds; the console sends it only when a sweep sets it."""

    round_ttl: float | None = Field(default=None, gt=0, le=86_400)


class RunStarted(_Open):
    """``202 {"agent_id", "task_id", "status": "queued"}``."""

    agent_id: str
    task_id: int
    status: str


class ToolSpec(_Open):
    """A tool of an agent: ``parameters`` is the JSON Schema of its arguments."""

    name: str
    description: str = ""
    parameters: dict[str, Any] = Field(default_factory=dict)


class AgentInput(_Open):
    """A string input an agent declares (a simulator extension of ``list agents``)."""

    key: str
    label: str = ""
    default: str = ""


class AgentSpec(_Open):
    """One entry of ``GET /v1/agents``; ``inputs`` is an optional extension the simulator sends."""

    agent_id: str
    name: str
    description: str = ""
    tools: list[ToolSpec] = Field(default_factory=list)
    inputs: list[AgentInput] = Field(default_factory=list)


class ErrorBody(BaseModel):
    """``{"error": {"code": "<snake_case>", "message": "<sentence>"}}`` on every error reply."""

    error: RunError

    @classmethod
    def of(cls, code: str, message: str) -> dict[str, Any]:
        return {"error": {"code": code, "message": message}}


def deadline_seconds(expires_at: str | None) -> float | None:
    """A round's ``expires_at`` (ISO 8601, contract "awaiting_tool_calls": ``2026-11-29T17:10:00Z``) as Unix
    seconds. ``Z`` or an offset are honoured; a time without either is read as UTC, the platform's zone, so every
    page and the fallback agree on it. ``None`` when absent or not a date."""
    if not expires_at:
        return None
    try:
        parsed = datetime.fromisoformat(expires_at.replace("Z", "+00:00"))
    except ValueError:
        return None
    return (parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=UTC)).timestamp()
