"""Public shapes: what the JSON API returns and the UI shows (times in Unix seconds)."""

from __future__ import annotations

from typing import Any

from sqlmodel import Field, SQLModel

from app.models.answered import AnsweredPublic, MaybeAnsweredPublic
from app.states import DraftMode, EventKind, HandlerKind, HandlerMode, RoundState, Verdict


class ToolCallPublic(SQLModel):
    """A call as the platform sent it: ``arguments`` is always an object; when what was sent is not one (case
    C10), ``arguments`` is ``{}``, ``arguments_text`` the text sent and ``arguments_problem`` why."""

    tool_call_id: str
    name: str
    arguments: dict[str, Any]
    arguments_text: str | None = None
    arguments_problem: str | None = None


class ToolResultPublic(AnsweredPublic):
    tool_call_id: str
    output: str
    is_error: bool
    created_at: float


class DraftPublic(AnsweredPublic):
    tool_call_id: str
    mode: DraftMode
    output: str
    is_error: bool
    note: str
    logs: str
    duration_ms: float


class RoundPublic(MaybeAnsweredPublic):
    """A round with its calls in order and, once answered, its results."""

    id: int
    agent_id: str
    task_id: int
    round: int
    state: RoundState
    expires_at: str | None
    opened_at: float
    submitted_at: float | None
    acknowledged_at: float | None
    message: str
    tool_calls: list[ToolCallPublic]
    results: list[ToolResultPublic]
    drafts: list[DraftPublic] = Field(default_factory=list)


class RunPublic(SQLModel):
    """A run; ``agent_name`` comes from the last agent sync (null when the agent was never listed); ``ended_at``
    when its first terminal status was applied or it was found lost (null while open)."""

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
    ended_at: float | None = None


class EventPublic(SQLModel):
    id: int
    at: float
    kind: EventKind
    summary: str
    delivery_id: int | None
    round_id: int | None
    console_made: bool = False


class RunDetail(RunPublic):
    """A run with its rounds and its timeline (events in time order)."""

    rounds: list[RoundPublic]
    events: list[EventPublic]


class DeliverySummary(SQLModel):
    """A stored delivery as the list shows it: its body only as ``body_preview`` (the first 200 bytes as text).

    ``body_length`` is the bytes received and ``body_sha256`` their hex SHA-256 (null for rows stored before
    lengths were kept, or when nothing was read); ``body_truncated``: the request was not read to the end (over
    the size limit: the body had more than ``body_length`` bytes); ``body_stored``: the bytes kept (the first
    4 KB of a refused body); ``body_note`` says in words when the stored body is not the whole of it ("first 4 KB
    of 30 MB, sha256 …"), else empty. ``task_id_claimed``: the ``task_id`` was read from a body that failed
    verification, an unverified claim. ``console_made``: a replay of an edited body, made in the console.
    """

    id: int
    received_at: float
    webhook_id: str | None
    headers: dict[str, str]
    verdict: Verdict
    message: str
    answered_status: int
    task_id: int | None
    task_id_claimed: bool = False
    sequence: int | None
    status: str | None
    replay_of: int | None = None
    console_made: bool = False
    body_preview: str
    body_stored: int
    body_length: int | None = None
    body_sha256: str | None = None
    body_truncated: bool = False
    body_note: str = ""


class DeliveryPublic(DeliverySummary):
    """A stored delivery with its stored body: ``body`` is the text when UTF-8 (else null); ``body_base64`` the
    exact bytes."""

    body: str | None
    body_base64: str


class HandlerPublic(SQLModel):
    """A handler as the admin API shows it."""

    id: int
    agent_id: str
    tool_name: str
    kind: HandlerKind
    mode: HandlerMode
    spec: dict[str, Any]
    behaviour: dict[str, Any]
    version: int
    updated_at: float
