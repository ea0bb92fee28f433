"""Rules handlers' memory in the database: each rule's count of calls and each run's state
(``app.handlers.rules_steps``; tables ``rule_count`` and ``run_state``). Blocking; ``StoredMemory`` runs it on the
handlers' pool.

A count is one ``INSERT ... ON CONFLICT DO UPDATE SET count = count + 1 ... RETURNING count`` under the one
writer: two calls at once (two calls of a round, two rounds of a run, two runs of an across-runs rule) get
different counts, never both 1. A ``set_state`` reads, merges and writes the run's state in one write transaction.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Engine, text
from sqlmodel import col, delete, select

from app.db import read_session, write_connection, write_session
from app.errors import NotFound
from app.handlers.rules_steps import merged_state
from app.models import RuleCount, Run, RunState
from app.pools import in_handlers

ACROSS_RUNS = 0
"""The ``task_id`` of a count kept across runs (task ids are positive)."""

_COUNT = text(
    "INSERT INTO rule_count (agent_id, tool_name, rule, task_id, count, updated_at) "
    "VALUES (:agent_id, :tool_name, :rule, :task_id, 1, :now) "
    "ON CONFLICT (agent_id, tool_name, rule, task_id) "
    "DO UPDATE SET count = rule_count.count + 1, updated_at = excluded.updated_at RETURNING count"
)


def count_call(engine: Engine, *, agent_id: str, tool_name: str, rule: str, task_id: int) -> int:
    """One more call of ``rule`` of the handler in ``task_id`` (``ACROSS_RUNS``: 0); the new count, from 1."""
    params = {"agent_id": agent_id, "tool_name": tool_name, "rule": rule, "task_id": task_id, "now": time.time()}
    with write_connection(engine) as conn:
        return int(conn.execute(_COUNT, params).scalar_one())


def read_state(engine: Engine, task_id: int) -> dict[str, Any]:
    """The run's state; ``{}`` before any ``set_state``."""
    with read_session(engine) as session:
        row = session.get(RunState, task_id)
        return dict(row.state) if row is not None else {}


def run_state(engine: Engine, task_id: int) -> dict[str, Any]:
    """As ``read_state``, for a page or script: raises ``NotFound`` for a run the console does not know."""
    with read_session(engine) as session:
        row = session.get(RunState, task_id)
        if row is None and session.get(Run, task_id) is None:
            raise NotFound(f"no run with task_id {task_id}")
        return dict(row.state) if row is not None else {}


def set_state(engine: Engine, task_id: int, updates: dict[str, Any]) -> dict[str, Any]:
    """Merge ``updates`` into the run's state (``rules_steps.merged_state``: a ``null`` removes a key) and store it;
    the new state. Raises ``rules_steps.StateTooBig`` past the bounds, storing nothing."""
    with write_session(engine) as session:
        row = session.get(RunState, task_id)
        merged = merged_state(row.state if row is not None else {}, updates)
        if row is None:
            session.add(RunState(task_id=task_id, state=merged, updated_at=time.time()))
        else:
            row.state, row.updated_at = merged, time.time()
        return merged


def rule_counts(engine: Engine, *, agent_id: str, tool_name: str) -> dict[str, int]:
    """The handler's counts kept across runs, by rule key (``rules_steps.count_key``)."""
    query = select(RuleCount.rule, RuleCount.count).where(
        RuleCount.agent_id == agent_id, RuleCount.tool_name == tool_name, RuleCount.task_id == ACROSS_RUNS
    )
    with read_session(engine) as session:
        return dict(session.exec(query.order_by(col(RuleCount.rule))).all())


def reset_counts(engine: Engine, *, agent_id: str, tool_name: str) -> int:
    """Forget every count of the handler's rules, per run and across runs: each starts at call 1 again. How many
    counts were forgotten."""
    query = delete(RuleCount).where(col(RuleCount.agent_id) == agent_id, col(RuleCount.tool_name) == tool_name)
    with write_session(engine) as session:
        return int(session.exec(query).rowcount)


@dataclass(frozen=True)
class StoredMemory:
    """``app.handlers.rules_stateful.RuleMemory`` in the database, for one handler's call in run ``task_id``."""

    engine: Engine
    agent_id: str
    tool_name: str
    task_id: int

    async def state(self) -> dict[str, Any]:
        return await in_handlers(read_state, self.engine, self.task_id)

    async def count(self, key: str, scope: str) -> int:
        task_id = ACROSS_RUNS if scope == "all_runs" else self.task_id
        return await in_handlers(
            count_call, self.engine, agent_id=self.agent_id, tool_name=self.tool_name, rule=key, task_id=task_id
        )

    async def set_state(self, updates: dict[str, Any]) -> dict[str, Any]:
        return await in_handlers(set_state, self.engine, self.task_id, updates)
