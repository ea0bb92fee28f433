"""The bars of a run's duration view (``app.services.run_durations``), from a run's rounds and timeline."""

from __future__ import annotations

from typing import Any

from app.models import EventPublic, RoundPublic, RunDetail
from app.services.run_durations import run_durations

T0 = 1_764_500_000.0


def _event(at: float, kind: str, delivery: bool = True) -> EventPublic:
    return EventPublic(
        id=int(at), at=T0 + at, kind=kind, summary="", delivery_id=1 if delivery else None, round_id=None
    )


def _round(number: int, opened: float, submitted: float | None, state: str = "submitted") -> RoundPublic:
    return RoundPublic(
        id=number,
        agent_id="a",
        task_id=1,
        round=number,
        state=state,
        expires_at=None,
        opened_at=T0 + opened,
        submitted_at=None if submitted is None else T0 + submitted,
        acknowledged_at=None,
        message="",
        tool_calls=[],
        results=[],
    )


def _run(status: str, events: list[EventPublic], rounds: list[RoundPublic], **extra: Any) -> RunDetail:
    return RunDetail(
        task_id=1,
        agent_id="a",
        status=status,
        sequence=1,
        round=None,
        environment="playground",
        string_inputs=None,
        result=None,
        error=None,
        started_by="tests",
        created_at=T0,
        updated_at=T0 + events[-1].at - T0,
        rounds=rounds,
        events=events,
        **extra,
    )


def _bars(run: RunDetail, now: float = T0 + 100) -> list[tuple[int | None, str, float, float]]:
    return [(b.round, b.kind, b.start, b.end) for b in run_durations(run, now=now).bars]


def test_durations_two_answered_rounds_alternate_platform_open_answered():
    events = [_event(0, "started", delivery=False), _event(1, "state"), _event(7, "state"), _event(12, "state")]
    run = _run("completed", events, [_round(1, 1, 5), _round(2, 7, 10)], ended_at=T0 + 12)
    assert _bars(run) == [
        (1, "platform", 0, 1),
        (1, "open", 1, 5),
        (1, "answered", 5, 7),
        (2, "open", 7, 10),
        (2, "answered", 10, 12),
    ]
    assert run_durations(run, now=T0 + 100).total == 12


def test_durations_pending_round_is_open_until_now_on_an_open_run():
    events = [_event(0, "started", delivery=False), _event(2, "state")]
    run = _run("awaiting_tool_calls", events, [_round(1, 2, None, state="pending")])
    assert _bars(run, now=T0 + 30) == [(1, "platform", 0, 2), (1, "open", 2, 30)]


def test_durations_expired_round_is_open_until_the_run_ended():
    events = [_event(0, "started", delivery=False), _event(3, "state"), _event(9, "state")]
    run = _run("expired", events, [_round(1, 3, None, state="expired")], ended_at=T0 + 9)
    assert _bars(run) == [(1, "platform", 0, 3), (1, "open", 3, 9)]


def test_durations_run_without_rounds_is_one_platform_bar():
    events = [_event(0, "started", delivery=False), _event(4, "state")]
    run = _run("completed", events, [], ended_at=T0 + 4)
    assert _bars(run) == [(None, "platform", 0, 4)]
