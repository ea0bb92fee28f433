"""SQLModel tables of handlers and of answers on their way: drafts and the outbox. Times are Unix seconds."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Column, Index, UniqueConstraint, text
from sqlmodel import Field, SQLModel

from app.models.answered import AnsweredColumns
from app.models.columns import EnumText, JsonValue
from app.states import DraftMode, HandlerKind, HandlerMode, OutboxState


class Handler(SQLModel, table=True):
    """How one tool of one agent is answered: a ``HandlerKind`` and a ``HandlerMode``.

    ``spec`` holds the kind's settings (``StaticSpec``, ``RulesSpec`` or ``{"code": ...}``), ``behaviour`` the
    latency and faults (``Behaviour``). Every save that changes something is a ``HandlerVersion``.
    """

    __table_args__ = (UniqueConstraint("agent_id", "tool_name"),)

    id: int | None = Field(default=None, primary_key=True)
    agent_id: str = Field(index=True)
    tool_name: str
    kind: HandlerKind = Field(sa_type=EnumText(HandlerKind))
    mode: HandlerMode = Field(default=HandlerMode.MANUAL, sa_type=EnumText(HandlerMode))
    spec: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JsonValue, nullable=False))
    behaviour: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JsonValue, nullable=False))
    version: int = 1
    updated_at: float


class HandlerVersion(SQLModel, table=True):
    """One saved state of a handler; restoring one saves it again as a new version."""

    __tablename__ = "handler_version"

    id: int | None = Field(default=None, primary_key=True)
    handler_id: int = Field(foreign_key="handler.id", index=True, ondelete="CASCADE")
    version: int
    kind: HandlerKind = Field(sa_type=EnumText(HandlerKind))
    mode: HandlerMode = Field(sa_type=EnumText(HandlerMode))
    spec: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JsonValue, nullable=False))
    behaviour: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JsonValue, nullable=False))
    saved_at: float
    note: str = ""


class Draft(AnsweredColumns, table=True):
    """An answer to one tool call, before it is sent. ``mode`` auto or replay: a handler's or replay's answer, sent
    as is; suggest: a handler's answer a person approves or edits; typed: what a person typed in the inbox, saved
    as they type (``app.services.typed_drafts``).

    A typed draft names its person in the answerer columns (kind ``person``, ``answered_user``), is unique per
    round, tool call and person (the partial index below), keeps the result field's JSON mode in ``as_json``, the
    last save in ``updated_at``, and ``claimed_at`` when that person claimed the round (first to type, or *Take
    over*). Handler drafts leave the last three at their defaults."""

    __table_args__ = (
        Index(
            "uq_draft_typed",
            "round_id",
            "tool_call_id",
            "answered_user",
            unique=True,
            sqlite_where=text("mode = 'typed'"),
            postgresql_where=text("mode = 'typed'"),
        ),
    )

    id: int | None = Field(default=None, primary_key=True)
    round_id: int = Field(foreign_key="round.id", index=True, ondelete="CASCADE")
    tool_call_id: str
    mode: DraftMode = Field(sa_type=EnumText(DraftMode))
    output: str
    is_error: bool = False
    note: str = ""
    logs: str = ""
    duration_ms: float = 0.0
    created_at: float
    as_json: bool = False
    updated_at: float | None = None
    claimed_at: float | None = None


class OutboxItem(AnsweredColumns, table=True):
    """One ``send_tool_responses`` to deliver: retried with backoff while the platform is unreachable or
    answers 5xx, always with the same Idempotency-Key; ``state`` is an ``OutboxState``.

    The answerer columns name who submitted the round; ``sources`` maps a tool_call_id to its own answerer
    (``Answerer`` as JSON) where that differs, e.g. a handler's suggestion a person sent unchanged."""

    __tablename__ = "outbox"

    id: int | None = Field(default=None, primary_key=True)
    round_id: int = Field(foreign_key="round.id", index=True, unique=True, ondelete="CASCADE")
    task_id: int
    agent_id: str
    body: dict[str, Any] = Field(sa_column=Column(JsonValue, nullable=False))
    idempotency_key: str
    sources: dict[str, dict[str, Any]] = Field(default_factory=dict, sa_column=Column(JsonValue, nullable=False))
    state: OutboxState = Field(default=OutboxState.PENDING, sa_type=EnumText(OutboxState), index=True)
    attempts: int = 0
    next_attempt_at: float
    last_error: str = ""
    created_at: float
    sent_at: float | None = None
