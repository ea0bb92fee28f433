"""Where a run's time went, round by round: the bars of the run page's duration view (a Gantt).

Each round has up to three bars, one after the other:

- ``platform``: waiting on the platform, from the run's start (or the platform's delivery after the round
  before was answered) until the round opened;
- ``open``: the round open until it was answered (``submitted_at``); a round never answered (expired, closed,
  still pending) is open until the next round opened, the run ended, or now;
- ``answered``: from the answer until the platform's next applied delivery, its reaction.

A last ``platform`` bar, on a row of its own, runs from there to the run's end (or now, while it is open). Times
are seconds from the run's first timeline event, as the run page's "took" counts (``runs.run_duration``).
"""

from __future__ import annotations

from pydantic import BaseModel

from app.models import RunDetail
from app.protocol import is_terminal
from app.states import DurationKind, EventKind, RunStatusName


class Bar(BaseModel):
    """One bar: ``round`` (null: after the last round), ``kind``, ``start`` and ``end`` in seconds from the run's
    start, ``seconds`` its length."""

    round: int | None
    kind: DurationKind
    start: float
    end: float
    seconds: float


class Durations(BaseModel):
    """``GET /api/runs/{task_id}/durations``: the run's bars in time order, and ``total`` seconds (start to end,
    or to now while the run is open)."""

    task_id: int
    total: float
    bars: list[Bar]


def run_durations(run: RunDetail, *, now: float) -> Durations:
    """The bars of ``run`` (``now``: Unix seconds, the end of what is still going on)."""
    start = run.events[0].at if run.events else run.created_at
    end = _end(run, now)
    deliveries = sorted(e.at for e in run.events if e.kind == EventKind.STATE and e.delivery_id is not None)
    rounds = sorted(run.rounds, key=lambda r: r.round)
    bars: list[Bar] = []

    def add(number: int | None, kind: DurationKind, begin: float, finish: float) -> None:
        begin, finish = max(begin, start), min(max(finish, begin), end)
        if finish > begin:
            bars.append(Bar(round=number, kind=kind, start=begin - start, end=finish - start, seconds=finish - begin))

    after = start
    for index, round_ in enumerate(rounds):
        add(round_.round, DurationKind.PLATFORM, after, round_.opened_at)
        answered = round_.submitted_at
        if answered is None:
            following = rounds[index + 1].opened_at if index + 1 < len(rounds) else end
            add(round_.round, DurationKind.OPEN, round_.opened_at, following)
            after = max(after, following)
            continue
        add(round_.round, DurationKind.OPEN, round_.opened_at, answered)
        reaction = next((at for at in deliveries if at > answered), end)
        add(round_.round, DurationKind.ANSWERED, answered, reaction)
        after = max(after, reaction)
    add(None, DurationKind.PLATFORM, after, end)
    return Durations(task_id=run.task_id, total=max(0.0, end - start), bars=bars)


def _end(run: RunDetail, now: float) -> float:
    """The run's end (``ended_at``, or its last change for a run that ended before that was kept), or ``now``."""
    if run.ended_at is not None:
        return run.ended_at
    if is_terminal(run.status) or run.status == RunStatusName.LOST:
        return run.updated_at
    return now
