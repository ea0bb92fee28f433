"""SQLModel tables of rules handlers' memory: how often each rule answered, and each run's state
(``app.handlers.rules_steps``; written by ``app.services.rule_state``). Times are Unix seconds."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Column
from sqlmodel import Field, SQLModel

from app.models.columns import JsonValue


class RuleCount(SQLModel, table=True):
    """Calls one rule of one handler (``agent_id``, ``tool_name``) answered in one scope: ``task_id`` is the run's,
    or 0 for a rule counted across runs. ``rule`` is ``rules_steps.count_key`` ("name:Oslo", "#2", "default")."""

    __tablename__ = "rule_count"

    agent_id: str = Field(primary_key=True)
    tool_name: str = Field(primary_key=True)
    rule: str = Field(primary_key=True)
    task_id: int = Field(primary_key=True)
    count: int = 0
    updated_at: float


class RunState(SQLModel, table=True):
    """The small JSON object the rules of one run set and match on (at most ``rules_steps.STATE_MAX_KEYS`` keys
    and ``STATE_MAX_BYTES`` bytes)."""

    __tablename__ = "run_state"

    task_id: int = Field(primary_key=True)
    state: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JsonValue, nullable=False))
    updated_at: float
