"""SQLModel tables of runs, deliveries, rounds and timelines. Times are Unix seconds (float, UTC); JSON columns hold parsed values.

A *run* is one task on the platform (keyed by ``task_id``); a *delivery* is one
webhook request as received (raw bytes kept); a *round* is one
``awaiting_tool_calls`` pause with its *tool calls* and, once answered, its
*tool results*; an *event* is one line of a run's timeline.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Column, Index, LargeBinary, UniqueConstraint, text
from sqlmodel import Field, SQLModel

from app.models.answered import AnsweredColumns, MaybeAnsweredColumns
from app.models.columns import EnumText, JsonValue
from app.states import EventKind, HandlerSet, RoundState, Verdict


class Setting(SQLModel, table=True):
    """Values the console generates and keeps, e.g. the webhook secret."""

    key: str = Field(primary_key=True)
    value: str


class Agent(SQLModel, table=True):
    """An agent as last listed by the platform (``GET /v1/agents``)."""

    agent_id: str = Field(primary_key=True)
    name: str
    description: str = ""
    tools: list[dict[str, Any]] = Field(default_factory=list, sa_column=Column(JsonValue, nullable=False))
    inputs: list[dict[str, Any]] = Field(default_factory=list, sa_column=Column(JsonValue, nullable=False))
    synced_at: float


class Run(SQLModel, table=True):
    """One task. ``sequence`` is the newest applied; older deliveries never move it back. ``ended_at``: when its
    first terminal status was applied (or it was found ``lost``), where its duration ends (issue 8).

    ``status`` is a plain string, not a ``RunStatusName``: a status the contract does not list is stored and
    shown as it came (contract, "Run statuses"). ``handler_set`` says which handlers answer its rounds: the saved
    ones, or the demo's own set for a run *Run demo* started.
    """

    task_id: int = Field(primary_key=True)
    agent_id: str = Field(index=True)
    status: str = Field(index=True)
    sequence: int = 0
    round: int | None = None
    environment: str | None = None
    string_inputs: dict[str, str] | None = Field(default=None, sa_column=Column(JsonValue))
    result: Any = Field(default=None, sa_column=Column(JsonValue))
    error: dict[str, Any] | None = Field(default=None, sa_column=Column(JsonValue))
    started_by: str | None = None
    created_at: float = Field(index=True)
    updated_at: float
    replay_of: int | None = None
    replay_until: int | None = None
    ended_at: float | None = None
    handler_set: HandlerSet = Field(default=HandlerSet.SAVED, sa_type=EnumText(HandlerSet))


class Delivery(SQLModel, table=True):
    """One webhook request, stored before it is answered; ``verdict`` is a ``Verdict``.

    ``body`` is the whole body of a verified delivery, and at most its first 4 KB for a refused one;
    ``body_length`` is how many bytes were received (``None``: stored before lengths were kept) and
    ``body_sha256`` the hex SHA-256 of them; ``body_truncated`` says the request was not read to the end (a body
    over the limit), so the body had more than ``body_length`` bytes. ``task_id`` of a refused delivery is the
    one its body claims, never verified. ``console_made``: a replay of an edited body, made in the console and
    not sent by the platform.

    A partial unique index on ``webhook_id`` over the first two verdicts makes
    deduplication a constraint, not a check-then-insert. ``ix_delivery_received_at`` (with the verdict, so it
    covers them) lets the Overview's windows and the refused deliveries' retention read only the rows of their
    time range, however long the log.
    """

    __table_args__ = (
        Index(
            "uq_delivery_webhook_id",
            "webhook_id",
            unique=True,
            sqlite_where=text("verdict IN ('applied', 'history')"),
            postgresql_where=text("verdict IN ('applied', 'history')"),
        ),
        Index("ix_delivery_received_at", "received_at", "verdict"),
    )

    id: int | None = Field(default=None, primary_key=True)
    received_at: float
    webhook_id: str | None = Field(default=None, index=True)
    headers: dict[str, str] = Field(default_factory=dict, sa_column=Column(JsonValue, nullable=False))
    body: bytes = Field(sa_column=Column(LargeBinary, nullable=False))
    verdict: Verdict = Field(sa_type=EnumText(Verdict), index=True)
    message: str = ""
    answered_status: int
    task_id: int | None = Field(default=None, index=True)
    sequence: int | None = None
    status: str | None = None
    replay_of: int | None = None
    body_length: int | None = None
    body_sha256: str | None = None
    body_truncated: bool = False
    console_made: bool = False


class Round(MaybeAnsweredColumns, table=True):
    """One pause on tool calls; ``state`` is a ``RoundState``; the answerer columns are set once it is sent.
    ``submitted_at`` is indexed for the Overview's windows (rounds answered in the last hour and day)."""

    __table_args__ = (UniqueConstraint("task_id", "round"),)

    id: int | None = Field(default=None, primary_key=True)
    task_id: int = Field(index=True)
    agent_id: str
    round: int
    state: RoundState = Field(default=RoundState.PENDING, sa_type=EnumText(RoundState), index=True)
    expires_at: str | None = None
    opened_at: float
    submitted_at: float | None = Field(default=None, index=True)
    acknowledged_at: float | None = None
    message: str = ""


class ToolCallRow(SQLModel, table=True):
    """One call of a round, in the order the platform sent it. ``arguments_text`` and ``arguments_problem``: the
    arguments as sent and why they are not a JSON object, when they are not (``arguments`` is then ``{}``;
    case C10, ``protocol.ToolCall``)."""

    __tablename__ = "tool_call"

    id: int | None = Field(default=None, primary_key=True)
    round_id: int = Field(foreign_key="round.id", index=True)
    tool_call_id: str
    name: str
    arguments: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JsonValue, nullable=False))
    position: int
    arguments_text: str | None = None
    arguments_problem: str | None = None


class ToolResultRow(AnsweredColumns, table=True):
    """The answer given to one tool call, as sent to the platform, and who gave it."""

    __tablename__ = "tool_result"

    id: int | None = Field(default=None, primary_key=True)
    round_id: int = Field(foreign_key="round.id", index=True)
    tool_call_id: str
    output: str
    is_error: bool = False
    created_at: float


class Event(SQLModel, table=True):
    """One line of a run's timeline (written by ``app.services.events.add_event``); ``console_made`` marks a line
    caused by a replay of an edited body (made in the console, not sent by the platform)."""

    id: int | None = Field(default=None, primary_key=True)
    task_id: int = Field(foreign_key="run.task_id", index=True, ondelete="CASCADE")
    at: float
    kind: EventKind = Field(sa_type=EnumText(EventKind))
    summary: str
    delivery_id: int | None = None
    round_id: int | None = None
    console_made: bool = False
