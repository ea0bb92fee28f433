"""The overview: runs by status, rounds per minute and answer latency by who answered, deliveries by verdict."""

from __future__ import annotations

import asyncio
from itertools import pairwise

import pytest
from sqlalchemy import Engine

from app.answerers import AUTO, Answerer
from app.db import make_engine, write_session
from app.models import Delivery, Round, ToolResultRow
from app.services.overview import DAY, overview
from app.states import HandlerKind, RoundState
from tests.builders import CLOCK, FLAKY, WEATHER_COMPARE, Console, encode, make_status, sign

NOW = 1_800_000_030.0  # 30 s into a minute
API = Answerer.person("api")
INBOX = Answerer.person("console")


async def test_get_overview_counts_deliveries_by_verdict(console: Console):
    body = encode(make_status(8501))
    old = encode(make_status(8501, status="running", sequence=1, round=None))
    codes = [
        (await console.post_webhook(body, sign(body, msg_id="m1"))).status_code,
        (await console.post_webhook(old, sign(old, msg_id="m2"))).status_code,  # history
        (await console.post_webhook(body, sign(body, msg_id="m1"))).status_code,  # duplicate
        (await console.post_webhook(body, sign(body, msg_id="m3") | {"webhook-signature": "v1,AAAA"})).status_code,
        (await console.post_webhook(body, sign(body, msg_id="m4", timestamp=1_000_000_000))).status_code,
        (await console.post_webhook(body, {"content-type": "application/json"})).status_code,
        (await console.post_webhook(b"not json", sign(b"not json", msg_id="m5"))).status_code,
    ]
    assert codes == [200, 200, 200, 401, 400, 400, 400]

    got = (await console.get("/api/overview")).json()

    assert got["deliveries_by_verdict"] == {
        "bad_headers": 1,
        "bad_timestamp": 1,
        "bad_signature": 1,
        "bad_body": 1,
        "too_large": 0,
        "applied": 1,
        "history": 1,
        "duplicate": 1,
    }
    assert (got["deliveries_last_hour"], got["refused_last_hour"]) == (7, 4)
    assert got["runs_by_status"] == {"awaiting_tool_calls": 1}
    assert (got["runs_total"], got["runs_awaiting_person"]) == (1, 1)


async def test_get_overview_splits_rounds_by_person_and_handler_kind(console: Console):
    await console.save_handler(
        agent_id=FLAKY, tool_name="fetch_quote", kind="static", mode="auto", spec={"output": "42"}
    )
    await console.save_handler(
        agent_id=WEATHER_COMPARE,
        tool_name="get_weather",
        kind="rules",
        mode="auto",
        spec={"rules": [], "default": {"output": "sunny"}},
    )
    clock = await console.start(CLOCK)
    handled = [await console.start(FLAKY), await console.start(WEATHER_COMPARE)]
    pending = await console.pending_round(clock)
    await asyncio.sleep(0.3)  # the person takes a moment
    await console.answer(pending, {"get_current_time": "12:00"})
    for task_id in [clock, *handled]:
        await console.wait_for_status(task_id, "completed")

    got = (await console.get("/api/overview")).json()

    minutes = got["rounds_per_minute"]
    assert len(minutes) == 60
    assert [b["minute"] - a["minute"] for a, b in pairwise(minutes)] == [60] * 59
    assert minutes[-1]["minute"] == int(got["at"] // 60) * 60
    assert (sum(m["person"] for m in minutes), sum(m["handlers"] for m in minutes)) == (1, 2)
    latency = {item["answerer"]: item for item in got["latency"]}
    assert {kind: item["rounds"] for kind, item in latency.items()} == {"person": 1, "static": 1, "rules": 1}
    assert latency["person"]["p50_s"] == latency["person"]["p95_s"] >= 0.3
    assert got["runs_by_status"] == {"completed": 3}
    assert got["runs_awaiting_person"] == 0


def test_overview_latency_percentiles_over_the_last_day(database_url: str):
    engine = make_engine(database_url)
    for wait in range(1, 11):  # 1 .. 10 s, answered by a person through the API
        _round(engine, submitted_at=NOW - 600, wait=wait, answered_by=API, results=[API])
    _round(
        engine, submitted_at=NOW - 60, wait=2, answered_by=AUTO, results=[Answerer.handler(HandlerKind.PYTHON, 4)] * 2
    )
    _round(engine, submitted_at=NOW - DAY - 1, wait=500, answered_by=API, results=[API])  # older than a day
    _round(engine, submitted_at=NOW - 60, wait=900, answered_by=API, results=[API], state=RoundState.CLOSED)

    got = overview(engine=engine, now=NOW)

    assert [(item.answerer, item.rounds, item.p50_s, item.p95_s) for item in got.latency] == [
        ("person", 10, 5.5, 9.55),
        ("python", 1, 2.0, 2.0),
    ]


def test_overview_rounds_per_minute_buckets_by_whole_minute(database_url: str):
    engine = make_engine(database_url)
    _round(engine, submitted_at=NOW - 30, wait=1, answered_by=INBOX, results=[INBOX])
    _round(engine, submitted_at=NOW - 1, wait=1, answered_by=AUTO, results=[Answerer.handler(HandlerKind.STATIC, 1)])
    _round(engine, submitted_at=NOW - 31, wait=1, answered_by=AUTO, results=[Answerer.handler(HandlerKind.STATIC, 1)])
    _round(engine, submitted_at=NOW - 59 * 60 - 30, wait=1, answered_by=API, results=[API])  # the first minute
    _round(engine, submitted_at=NOW - 59 * 60 - 31, wait=1, answered_by=API, results=[API])  # one before

    minutes = overview(engine=engine, now=NOW).rounds_per_minute

    assert minutes[0].minute == NOW - 30 - 59 * 60
    assert [(m.person, m.handlers) for m in (minutes[0], minutes[-2], minutes[-1])] == [(1, 0), (0, 1), (1, 1)]
    assert sum(m.person + m.handlers for m in minutes) == 4


def test_overview_deliveries_leave_out_older_than_a_day(database_url: str):
    engine = make_engine(database_url)
    for received_at, verdict in [
        *[(NOW - 2 * DAY + i, "applied") for i in range(40)],
        (NOW - DAY - 5, "applied"),  # stored after the next one (the write lock's wait), still a day old
        (NOW - DAY + 5, "applied"),
        (NOW - DAY - 1, "bad_signature"),
        *[(NOW - DAY + 100 + i, "applied") for i in range(50)],
        (NOW - 3599, "bad_body"),
        (NOW - 10, "duplicate"),
    ]:
        _delivery(engine, received_at, verdict)

    got = overview(engine=engine, now=NOW)

    assert {verdict: count for verdict, count in got.deliveries_by_verdict.items() if count} == {
        "applied": 51,
        "bad_body": 1,
        "duplicate": 1,
    }
    assert (got.deliveries_last_hour, got.refused_last_hour) == (2, 1)


def test_overview_empty_database_is_all_zeros(database_url: str):
    got = overview(engine=make_engine(database_url), now=NOW)
    assert (got.runs_total, got.runs_by_status, got.latency) == (0, {}, [])
    assert set(got.deliveries_by_verdict.values()) == {0}
    assert len(got.rounds_per_minute) == 60


@pytest.mark.parametrize("kind", list(HandlerKind))
def test_overview_latency_names_handler_kind_from_result(database_url: str, kind: HandlerKind):
    engine = make_engine(database_url)
    _round(engine, submitted_at=NOW - 5, wait=1, answered_by=AUTO, results=[Answerer.handler(kind, 12)])
    _round(engine, submitted_at=NOW - 5, wait=1, answered_by=API, results=[API])

    assert [item.answerer for item in overview(engine=engine, now=NOW).latency] == ["person", kind]


_next_task = iter(range(9000, 10_000))


def _round(
    engine: Engine,
    *,
    submitted_at: float,
    wait: float,
    answered_by: Answerer,
    results: list[Answerer],
    state: RoundState = RoundState.SUBMITTED,
) -> None:
    """A round of ``len(results)`` calls opened ``wait`` seconds before ``submitted_at``."""
    task_id = next(_next_task)
    with write_session(engine) as session:
        row = Round(
            task_id=task_id,
            agent_id="agent",
            round=1,
            state=state,
            opened_at=submitted_at - wait,
            submitted_at=submitted_at,
            **answered_by.columns(),
        )
        session.add(row)
        session.flush()
        assert row.id is not None
        for n, who in enumerate(results):
            session.add(
                ToolResultRow(
                    **who.columns(), round_id=row.id, tool_call_id=f"c{n}", output="x", created_at=submitted_at
                )
            )


def _delivery(engine: Engine, received_at: float, verdict: str) -> None:
    with write_session(engine) as session:
        session.add(Delivery(received_at=received_at, body=b"{}", verdict=verdict, answered_status=200))
