"""Every pending round at once, read for all Inbox tabs together and kept up to date run by run.

``read_pending`` makes a ``PendingRounds``: the first read takes every pending round; later reads take only the
rounds of the runs that changed since (``changed``: task ids, as ``app.changes`` names them) and the rounds that
became pending, and keep the others as they were: the very same objects, so a page finds the changed cards by
identity. Which rounds are pending comes from one query of ids; a round whose change has not been flushed yet is
picked up by the flush that names its run. So a change costs full reads of its own run's rounds, not of every
pending round (issue 10: no per-change work that scales with the pending rounds).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import Engine
from sqlmodel import Session, col, select

from app.db import read_session
from app.models import Agent, Round, RoundPublic
from app.services.agents import agents_in
from app.services.inbox import InboxView, RoundContext, arrange_rounds, contexts_in
from app.services.rounds import rounds_public
from app.states import RoundState

BATCH = 500
"""Task ids per query (SQLite bounds a query's parameters)."""


@dataclass(frozen=True)
class PendingRounds:
    """``rounds``: every pending round by id; ``agents``: the agents as last synced; ``contexts``: the cards'
    context (``load_contexts``) of the rounds that became pending since the read before, so that the tabs draw a
    new round's card without a read of their own. Orders and tool lists are worked out once per ``PendingRounds``
    and view, for every tab that shows it."""

    rounds: dict[int, RoundPublic]
    agents: list[Agent]
    contexts: dict[int, RoundContext] = field(default_factory=dict)
    _arranged: dict[tuple[str | None, str | None, str], list[RoundPublic]] = field(default_factory=dict)
    _tools: dict[str | None, set[str]] = field(default_factory=dict)

    def arranged(self, view: InboxView) -> list[RoundPublic]:
        """The rounds ``view`` shows, in its order (``arrange_rounds``); do not change the list."""
        key = (view.agent, view.tool, str(view.sort))
        if key not in self._arranged:
            self._arranged[key] = arrange_rounds(self.rounds.values(), view)
        return self._arranged[key]

    def tools(self, agent: str | None) -> set[str]:
        """Tool names of ``agent`` (``None``: every agent): those its agent lists, and those of its pending rounds."""
        if agent not in self._tools:
            listed = {
                str(spec.get("name"))
                for item in self.agents
                if not agent or item.agent_id == agent
                for spec in item.tools
            }
            called = {
                call.name
                for item in self.rounds.values()
                if not agent or item.agent_id == agent
                for call in item.tool_calls
            }
            self._tools[agent] = listed | called
        return self._tools[agent]


def read_pending(
    *, engine: Engine, previous: PendingRounds | None = None, changed: frozenset[int] | None = None
) -> PendingRounds:
    """The pending rounds now. With ``previous`` and ``changed`` (the task ids changed since ``previous`` was read;
    0 stands for no run), one query lists the pending round ids, and only the rounds of changed runs and the ones
    ``previous`` lacks are read in full (with the context of the new ones); ``None`` reads all in full."""
    with read_session(engine) as session:  # one snapshot for the rounds, their agents and the new cards' context
        agents = agents_in(session)
        if previous is None or changed is None:
            rows = session.exec(select(Round).where(Round.state == RoundState.PENDING)).all()
            return PendingRounds(rounds={item.id: item for item in rounds_public(session, rows)}, agents=agents)
        now = session.exec(select(Round.id, Round.task_id).where(Round.state == RoundState.PENDING)).all()
        kept = {
            round_id: previous.rounds[round_id]
            for round_id, task_id in now
            if round_id in previous.rounds and task_id not in changed
        }
        fresh = _by_ids(session, [round_id for round_id, _ in now if round_id is not None and round_id not in kept])
        fresh = [item for item in fresh if item.state == RoundState.PENDING]
        kept.update((item.id, item) for item in fresh)
        new = [item for item in fresh if item.id not in previous.rounds]
        contexts = contexts_in(session, new) if new else {}
    return PendingRounds(rounds=kept, agents=agents, contexts=contexts)


def _by_ids(session: Session, round_ids: list[int]) -> list[RoundPublic]:
    """Rounds ``round_ids`` with their calls, results and drafts (in whatever state they are now)."""
    found: list[RoundPublic] = []
    for start in range(0, len(round_ids), BATCH):
        batch = round_ids[start : start + BATCH]
        found += rounds_public(session, session.exec(select(Round).where(col(Round.id).in_(batch))).all())
    return found
