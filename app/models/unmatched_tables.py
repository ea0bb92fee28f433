"""The SQLModel table of unmatched calls: tool calls a rules handler answered without a rule (times: Unix seconds)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Column
from sqlmodel import Field, SQLModel

from app.models.columns import JsonValue


class UnmatchedCall(SQLModel, table=True):
    """One call no rule of a rules handler matched (``app.services.unmatched``; the newest
    ``UNMATCHED_KEPT`` per handler are kept).

    ``arguments`` as the call sent them, or ``None`` when they are not kept, with the reason in
    ``arguments_problem`` (not a JSON object, case C10; or too large); ``by_default`` tells whether the handler's
    default answered (else the call got an error result); ``output`` the first characters of that answer;
    ``nearest`` the nearest rule and how each of its conditions fared (``Answer.nearest``'s shape), or ``None``.
    """

    __tablename__ = "unmatched_call"

    id: int | None = Field(default=None, primary_key=True)
    handler_id: int = Field(foreign_key="handler.id", index=True, ondelete="CASCADE")
    handler_version: int
    agent_id: str
    tool_name: str
    task_id: int
    round: int
    tool_call_id: str
    arguments: dict[str, Any] | None = Field(default=None, sa_column=Column(JsonValue, nullable=True))
    arguments_problem: str | None = None
    by_default: bool = False
    is_error: bool = True
    output: str = ""
    nearest: dict[str, Any] | None = Field(default=None, sa_column=Column(JsonValue, nullable=True))
    at: float


class UnmatchedCallPublic(SQLModel):
    """An unmatched call as ``GET /api/handlers/{id}/unmatched`` and the handler editor show it."""

    id: int
    handler_id: int
    handler_version: int
    agent_id: str
    tool_name: str
    task_id: int
    round: int
    tool_call_id: str
    arguments: dict[str, Any] | None
    arguments_problem: str | None
    by_default: bool
    is_error: bool
    output: str
    nearest: dict[str, Any] | None
    at: float
