"""SQLModel tables of cassettes (a run's tool calls and the results they got, kept to answer other runs) and of the
runs that play one back (``app.services.cassettes``, ``app.services.playback``). Times are Unix seconds."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Column
from sqlmodel import Field, SQLModel

from app.models.columns import EnumText, JsonValue
from app.states import CassetteMatching


class Cassette(SQLModel, table=True):
    """A cassette: ``entries`` are ``{"round", "tool_name", "arguments", "output", "is_error"}`` in the order the
    calls were made (``app.services.cassettes.CassetteEntry``). ``recorded_from`` is the task_id it was recorded
    from (``None`` for one imported from a file). ``playing``: the agent's playback source, answering its new runs
    (created from ``playing_since`` on) with ``matching``; at most one per agent."""

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(index=True, unique=True)
    agent_id: str = Field(index=True)
    recorded_from: int | None = None
    created_at: float
    entries: list[dict[str, Any]] = Field(default_factory=list, sa_column=Column(JsonValue, nullable=False))
    playing: bool = False
    matching: CassetteMatching = Field(default=CassetteMatching.STRICT, sa_type=EnumText(CassetteMatching))
    playing_since: float | None = None


class CassetteRun(SQLModel, table=True):
    """A run a cassette answers: ``used`` lists the indexes of the entries its calls have taken so far, in order."""

    __tablename__ = "cassette_run"

    task_id: int = Field(primary_key=True, foreign_key="run.task_id", ondelete="CASCADE")
    cassette_id: int = Field(foreign_key="cassette.id", index=True, ondelete="CASCADE")
    matching: CassetteMatching = Field(sa_type=EnumText(CassetteMatching))
    used: list[int] = Field(default_factory=list, sa_column=Column(JsonValue, nullable=False))
