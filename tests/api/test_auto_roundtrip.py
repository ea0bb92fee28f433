"""The auto round trip: a round handlers answer in auto mode reaches the platform once, sent by the responder that
stored it (not by the outbox's loop), retried by the outbox when the platform fails, with the database work on the
handlers' pool; the simulator reports each round's round trip (``GET /_control/round_trips``)."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest

from app.runtime import Runtime
from app.services import fast_sql, responder_store
from tests.builders import CLOCK, TRIP, Console, statements, wait_for

TRIP_TOOLS = ("get_weather", "search_flights", "book_umbrella", "book_hotel")


async def _auto_static(console: Console, agent_id: str, *tools: str) -> None:
    for tool in tools:
        await console.save_handler(agent_id=agent_id, tool_name=tool, kind="static", mode="auto", spec={"output": "ok"})


async def _sim_get(console: Console, runtime: Runtime, path: str) -> Any:
    response = await console.get(
        f"/sim{path}", headers={"Authorization": f"Bearer {runtime.settings.platform_api_key}"}
    )
    assert response.status_code == 200, response.text
    return response.json()


async def test_auto_rounds_reach_the_platform_once_each(console: Console, runtime: Runtime):
    await _auto_static(console, TRIP, *TRIP_TOOLS)
    await _auto_static(console, CLOCK, "get_current_time")
    task_ids = [await console.start(TRIP), await console.start(CLOCK), await console.start(TRIP)]
    for task_id in task_ids:
        await console.wait_for_status(task_id, "completed")
    stats = await _sim_get(console, runtime, "/_control/stats")
    assert stats["rounds_applied"] == 5, stats  # two rounds per Trip planner run, one for Clock
    assert stats["rounds_applied_twice"] == [], stats
    assert stats["tool_responses"] == {"answered": {"200": 5}, "applied": 5, "replayed": 0}, stats
    trips = await _sim_get(console, runtime, "/_control/round_trips")
    assert sorted((trip["task_id"], trip["round"]) for trip in trips) == sorted(
        [(task_ids[0], 1), (task_ids[0], 2), (task_ids[1], 1), (task_ids[2], 1), (task_ids[2], 2)]
    )
    assert all(trip["ms"] >= 0 for trip in trips), trips


async def test_auto_round_sent_by_the_responder_without_the_outbox_loop(console: Console, runtime: Runtime):
    """The submission goes out as soon as it is stored: with the outbox's loop stopped, only that send can have
    delivered it."""
    await runtime.outbox.aclose()
    await _auto_static(console, CLOCK, "get_current_time")
    task_id = await console.start(CLOCK)
    await console.wait_for_status(task_id, "completed")

    async def acknowledged() -> dict | None:  # the platform's ack is stored after the run may already have moved on
        round_ = (await console.run(task_id))["rounds"][0]
        return round_ if round_["state"] == "submitted" else None

    assert (await wait_for(acknowledged, within=10))["answered_by"] == "handlers (auto)"
    assert runtime.simulator is not None
    assert [(task, body.results[0].output) for task, body in runtime.simulator.received] == [(task_id, "ok")]


async def test_auto_static_round_with_faults_or_latency_sends_what_they_make(console: Console, runtime: Runtime):
    """A static handler with faults (or latency) still answers through them: only one without either is answered in
    the planning trip, and what the platform receives is the same either way."""
    await console.save_handler(
        agent_id=TRIP, tool_name="get_weather", kind="static", mode="auto", spec={"output": "ok"},
        behaviour={"fail_probability": 1, "fail_message": "weather service down"},
    )  # fmt: skip
    await console.save_handler(
        agent_id=TRIP, tool_name="search_flights", kind="static", mode="auto", spec={"output": "flights"},
        behaviour={"latency_ms": 20},
    )  # fmt: skip
    await _auto_static(console, TRIP, "book_umbrella", "book_hotel")
    task_id = await console.start(TRIP)
    await console.wait_for_status(task_id, "completed")
    assert runtime.simulator is not None
    first, second = [body for task, body in runtime.simulator.received if task == task_id]
    assert sorted((r.output, r.is_error) for r in first.results) == [("flights", False), ("weather service down", True)]
    assert [(r.output, r.is_error) for r in second.results] == [("ok", False)]


async def test_auto_round_retried_after_platform_failure_lands_once(console: Console, runtime: Runtime):
    assert runtime.simulator is not None
    runtime.simulator.unavailable_tool_responses = 1
    await _auto_static(console, CLOCK, "get_current_time")
    task_id = await console.start(CLOCK)
    run = await console.wait_for_status(task_id, "completed", acknowledged=True)
    assert run["rounds"][0]["message"] == "sent on attempt 2"
    assert [task for task, _body in runtime.simulator.received] == [task_id]
    stats = await _sim_get(console, runtime, "/_control/stats")
    assert stats["tool_responses"]["answered"] == {"503 unavailable": 1, "200": 1}, stats


async def test_auto_round_database_writes_run_on_the_handlers_pool(
    console: Console, runtime: Runtime, monkeypatch: pytest.MonkeyPatch
):
    """Drafts and outbox rows are written on ``tooldesk-handlers`` threads, never on the UI's pool (the loop's
    default executor) or the event loop."""
    await _auto_static(console, CLOCK, "get_current_time")
    with _writers(runtime, monkeypatch) as threads:
        task_id = await console.start(CLOCK)
        await console.wait_for_status(task_id, "completed")
        await runtime.responder.idle()
    assert threads, "no draft or outbox row was written"
    assert all(name.startswith("tooldesk-handlers") for name in threads), threads


@contextmanager
def _writers(runtime: Runtime, monkeypatch: pytest.MonkeyPatch) -> Iterator[set[str]]:
    """The names of the threads that insert or update draft and outbox rows while the block runs: through
    SQLAlchemy, or through the driver's cursor (``app.services.fast_sql``, which SQLAlchemy's events do not see)."""
    threads: set[str] = set()
    tables = {"draft", "outbox"}

    def seen_insert(cursor: Any, dialect: Any, table: Any, values: Any) -> int:
        if table.name in tables:
            threads.add(threading.current_thread().name)
        return fast_sql.insert_row(cursor, dialect, table, values)

    monkeypatch.setattr(responder_store, "insert_row", seen_insert)
    with statements(runtime.engine) as seen:
        yield threads
    writes = ("INSERT INTO DRAFT", "INSERT INTO OUTBOX", "UPDATE OUTBOX")
    threads.update(s.thread for s in seen if s.sql.lstrip().upper().startswith(writes))
