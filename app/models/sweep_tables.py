"""SQLModel tables of robustness sweeps (``app.services.sweeps``). Times are Unix seconds (float, UTC).

A *sweep* answers one tool of one agent with a matrix of answers, its *cells*, and starts ``runs_per_cell`` runs
per cell; a *sweep run* is one of those runs: its cell, the run's ``task_id`` once the platform took it, or why
the platform did not. A run's outcome, rounds and duration are read from its ``run`` row, so a restart keeps
the sweep's table.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Column, ForeignKey, Integer
from sqlmodel import Field, SQLModel

from app.models.columns import JsonValue


class Sweep(SQLModel, table=True):
    """One sweep: ``cells`` is a list of ``{"kind", "value", "label"}`` (``app.services.sweep_answers.Cell``);
    ``round_ttl`` the seconds the platform was asked to give each round (``None``: its own expiry); ``cancelled_at``
    when *Cancel sweep* stopped it."""

    id: int | None = Field(default=None, primary_key=True)
    agent_id: str
    tool_name: str
    cells: list[dict[str, Any]] = Field(default_factory=list, sa_column=Column(JsonValue, nullable=False))
    runs_per_cell: int
    string_inputs: dict[str, str] = Field(default_factory=dict, sa_column=Column(JsonValue, nullable=False))
    round_ttl: float | None = None
    created_by: str
    created_at: float
    cancelled_at: float | None = None


class SweepRun(SQLModel, table=True):
    """One run of a sweep: ``cell`` indexes ``Sweep.cells``; ``task_id`` is set once the platform took the start,
    ``start_error`` when it refused it (the platform's words)."""

    __tablename__ = "sweep_run"

    id: int | None = Field(default=None, primary_key=True)
    sweep_id: int = Field(sa_column=Column(Integer, ForeignKey("sweep.id", ondelete="CASCADE"), nullable=False))
    cell: int
    task_id: int | None = Field(default=None, index=True)
    start_error: str | None = None
    started_at: float | None = None
