"""SQLModel tables. Times are Unix seconds (float, UTC); JSON columns hold parsed values.

A *run* is one task on the platform (keyed by ``task_id``); a *delivery* is one
webhook request as received (raw bytes kept); a *round* is one
``awaiting_tool_calls`` pause with its *tool calls* and, once answered, its
*tool results*; an *event* is one line of a run's timeline.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import JSON, Column, Index, LargeBinary, UniqueConstraint, text
from sqlmodel import Field, SQLModel


class Setting(SQLModel, table=True):
    """Values the console generates and keeps, e.g. the webhook secret."""

    key: str = Field(primary_key=True)
    value: str


class Agent(SQLModel, table=True):
    """An agent as last listed by the platform (``GET /v1/agents``)."""

    agent_id: str = Field(primary_key=True)
    name: str
    description: str = ""
    tools: list[dict[str, Any]] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    inputs: list[dict[str, Any]] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    synced_at: float


class Run(SQLModel, table=True):
    """One task. ``sequence`` is the newest applied; older deliveries never move it back."""

    task_id: int = Field(primary_key=True)
    agent_id: str = Field(index=True)
    status: str = Field(index=True)
    sequence: int = 0
    round: int | None = None
    environment: str | None = None
    string_inputs: dict[str, str] | None = Field(default=None, sa_column=Column(JSON))
    result: Any = Field(default=None, sa_column=Column(JSON))
    error: dict[str, Any] | None = Field(default=None, sa_column=Column(JSON))
    started_by: str | None = None
    created_at: float = Field(index=True)
    updated_at: float
    replay_of: int | None = None
    replay_until: int | None = None


class Delivery(SQLModel, table=True):
    """One webhook request, stored before it is answered.

    ``verdict``: ``applied`` (moved the run), ``history`` (sequence not above the
    newest: recorded only), ``duplicate`` (a ``webhook-id`` already stored), or a
    refusal: ``bad_headers``, ``bad_timestamp``, ``bad_signature``, ``bad_body``.
    A partial unique index on ``webhook_id`` over the first two verdicts makes
    deduplication a constraint, not a check-then-insert.
    """

    __table_args__ = (
        Index(
            "uq_delivery_webhook_id",
            "webhook_id",
            unique=True,
            sqlite_where=text("verdict IN ('applied', 'history')"),
        ),
    )

    id: int | None = Field(default=None, primary_key=True)
    received_at: float
    webhook_id: str | None = Field(default=None, index=True)
    headers: dict[str, str] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    body: bytes = Field(sa_column=Column(LargeBinary, nullable=False))
    verdict: str = Field(index=True)
    message: str = ""
    answered_status: int
    task_id: int | None = Field(default=None, index=True)
    sequence: int | None = None
    status: str | None = None
    replay_of: int | None = None


class Round(SQLModel, table=True):
    """One pause on tool calls. ``state``: pending, submitting, submitted, expired, closed."""

    __table_args__ = (UniqueConstraint("task_id", "round"),)

    id: int | None = Field(default=None, primary_key=True)
    task_id: int = Field(index=True)
    agent_id: str
    round: int
    state: str = Field(default="pending", index=True)
    expires_at: str | None = None
    opened_at: float
    submitted_at: float | None = None
    acknowledged_at: float | None = None
    answered_by: str | None = None
    message: str = ""


class ToolCallRow(SQLModel, table=True):
    """One call of a round, in the order the platform sent it."""

    __tablename__ = "tool_call"

    id: int | None = Field(default=None, primary_key=True)
    round_id: int = Field(foreign_key="round.id", index=True)
    tool_call_id: str
    name: str
    arguments: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    position: int


class ToolResultRow(SQLModel, table=True):
    """The answer given to one tool call, as sent to the platform."""

    __tablename__ = "tool_result"

    id: int | None = Field(default=None, primary_key=True)
    round_id: int = Field(foreign_key="round.id", index=True)
    tool_call_id: str
    output: str
    is_error: bool = False
    answered_by: str
    created_at: float


class Event(SQLModel, table=True):
    """One line of a run's timeline. ``kind``: delivery, state, round_opened, round_submitted, ..."""

    id: int | None = Field(default=None, primary_key=True)
    task_id: int = Field(index=True)
    at: float
    kind: str
    summary: str
    delivery_id: int | None = None
    round_id: int | None = None


# Public shapes: what the JSON API returns and the UI shows.


class ToolCallPublic(SQLModel):
    """A call as the platform sent it: ``arguments`` is always an object."""

    tool_call_id: str
    name: str
    arguments: dict[str, Any]


class ToolResultPublic(SQLModel):
    tool_call_id: str
    output: str
    is_error: bool
    answered_by: str
    created_at: float


class DraftPublic(SQLModel):
    tool_call_id: str
    mode: str
    output: str
    is_error: bool
    answered_by: str
    note: str
    logs: str
    duration_ms: float


class RoundPublic(SQLModel):
    """A round with its calls in order and, once answered, its results."""

    id: int
    agent_id: str
    task_id: int
    round: int
    state: str
    expires_at: str | None
    opened_at: float
    submitted_at: float | None
    acknowledged_at: float | None
    answered_by: str | None
    message: str
    tool_calls: list[ToolCallPublic]
    results: list[ToolResultPublic]
    drafts: list[DraftPublic] = []


class RunPublic(SQLModel):
    """A run; ``agent_name`` comes from the last agent sync (null when the agent was never listed)."""

    task_id: int
    agent_id: str
    agent_name: str | None = None
    status: str
    sequence: int
    round: int | None
    environment: str | None
    string_inputs: dict[str, str] | None
    result: Any
    error: dict[str, Any] | None
    started_by: str | None
    created_at: float
    updated_at: float
    replay_of: int | None = None
    replay_until: int | None = None


class EventPublic(SQLModel):
    id: int
    at: float
    kind: str
    summary: str
    delivery_id: int | None
    round_id: int | None


class RunDetail(RunPublic):
    """A run with its rounds and its timeline (events in time order)."""

    rounds: list[RoundPublic]
    events: list[EventPublic]


class DeliveryPublic(SQLModel):
    """A stored delivery: ``body`` is the text when UTF-8 (else null); ``body_base64`` the exact bytes."""

    id: int
    received_at: float
    webhook_id: str | None
    headers: dict[str, str]
    verdict: str
    message: str
    answered_status: int
    task_id: int | None
    sequence: int | None
    status: str | None
    body: str | None
    body_base64: str
    replay_of: int | None = None


class Handler(SQLModel, table=True):
    """How one tool of one agent is answered. ``kind``: static, rules, python; ``mode``: manual, suggest, auto.

    ``spec`` holds the kind's settings (``StaticSpec``, ``RulesSpec`` or ``{"code": ...}``), ``behaviour`` the
    latency and faults (``Behaviour``). Every save that changes something is a ``HandlerVersion``.
    """

    __table_args__ = (UniqueConstraint("agent_id", "tool_name"),)

    id: int | None = Field(default=None, primary_key=True)
    agent_id: str = Field(index=True)
    tool_name: str
    kind: str
    mode: str = "manual"
    spec: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    behaviour: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    version: int = 1
    updated_at: float


class HandlerVersion(SQLModel, table=True):
    """One saved state of a handler; restoring one saves it again as a new version."""

    __tablename__ = "handler_version"

    id: int | None = Field(default=None, primary_key=True)
    handler_id: int = Field(index=True)
    version: int
    kind: str
    mode: str
    spec: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    behaviour: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    saved_at: float
    note: str = ""


class Draft(SQLModel, table=True):
    """A handler's answer to one tool call, before it is sent: ``mode`` auto (sent as is) or suggest (a person
    approves or edits it)."""

    id: int | None = Field(default=None, primary_key=True)
    round_id: int = Field(index=True)
    tool_call_id: str
    mode: str
    output: str
    is_error: bool = False
    answered_by: str
    note: str = ""
    logs: str = ""
    duration_ms: float = 0.0
    created_at: float


class OutboxItem(SQLModel, table=True):
    """One ``send_tool_responses`` to deliver: retried with backoff while the platform is unreachable or
    answers 5xx, always with the same Idempotency-Key. ``state``: pending, sent, failed."""

    __tablename__ = "outbox"

    id: int | None = Field(default=None, primary_key=True)
    round_id: int = Field(index=True, unique=True)
    task_id: int
    agent_id: str
    body: dict[str, Any] = Field(sa_column=Column(JSON, nullable=False))
    idempotency_key: str
    answered_by: str
    sources: dict[str, str] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    state: str = Field(default="pending", index=True)
    attempts: int = 0
    next_attempt_at: float
    last_error: str = ""
    created_at: float
    sent_at: float | None = None


class HandlerPublic(SQLModel):
    """A handler as the admin API shows it."""

    id: int
    agent_id: str
    tool_name: str
    kind: str
    mode: str
    spec: dict[str, Any]
    behaviour: dict[str, Any]
    version: int
    updated_at: float
