"""The Runs table's rows: one row as the browser gets it, and the default view's first page read lean.

``first_page`` is read while the Runs page is built (``app.ui.pages.runs``), before the browser has any of the
page: every millisecond spent there is a millisecond before the first row (issue 10, "runs page, 100,000 runs:
first row ≤ 500 ms"). It reads only the eight columns the table shows, as plain tuples, in the order and page
``app.services.runs.list_runs`` gives the default view (newest ``created_at`` first, ties newest ``task_id``
first): the same rows, without building and validating a ``Run`` and a ``RunPublic`` model for each (about a
fifth of the page's build time with 50 rows).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Engine, select
from sqlmodel import col

from app.models import Agent, Run, RunPublic
from app.ui.format import browser_id, stamp


def table_row(
    *,
    task_id: int,
    agent: str,
    status: str,
    round_: int | None,
    environment: str | None,
    started_by: str | None,
    created_at: float,
    updated_at: float,
) -> dict[str, str]:
    """One row of the Runs table: ids as text (``browser_id``), times as local stamps, the agent's name (or its
    id when the platform never listed it)."""
    return {
        "task_id": browser_id(task_id),
        "agent": agent,
        "status": status,
        "round": browser_id(round_),
        "environment": environment or "",
        "started_by": started_by or "",
        "created": stamp(created_at),
        "updated": stamp(updated_at),
    }


def public_row(item: RunPublic) -> dict[str, str]:
    """``table_row`` of a run as ``app.services.runs.list_runs`` returns it."""
    return table_row(
        task_id=item.task_id,
        agent=item.agent_name or item.agent_id,
        status=item.status,
        round_=item.round,
        environment=item.environment,
        started_by=item.started_by,
        created_at=item.created_at,
        updated_at=item.updated_at,
    )


def first_page(*, engine: Engine, per_page: int) -> list[dict[str, str]]:
    """The default view's first ``per_page`` runs as table rows (module docstring): a read of the ``created_at``
    index from its end that stops after the page, and of the agents' names."""
    columns = [
        col(Run.task_id),
        col(Run.agent_id),
        col(Run.status),
        col(Run.round),
        col(Run.environment),
        col(Run.started_by),
        col(Run.created_at),
        col(Run.updated_at),
    ]
    order = (col(Run.created_at).desc(), col(Run.task_id).desc())
    with engine.connect() as conn:
        rows: list[Any] = list(conn.execute(select(*columns).order_by(*order).limit(per_page)))
        names: dict[str, str] = {row[0]: row[1] for row in conn.execute(select(col(Agent.agent_id), col(Agent.name)))}
    return [
        table_row(
            task_id=task_id,
            agent=names.get(agent_id) or agent_id,
            status=status,
            round_=round_,
            environment=environment,
            started_by=started_by,
            created_at=created_at,
            updated_at=updated_at,
        )
        for task_id, agent_id, status, round_, environment, started_by, created_at, updated_at in rows
    ]
