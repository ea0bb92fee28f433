"""The simulator's runs outlive the simulator: a second one on the same database (the test's SQLite file, or its
PostgreSQL database) goes on where the first stopped (rounds, expiry, queued deliveries, idempotency keys, the
next task_id)."""

from __future__ import annotations

import asyncio
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from app.db import make_engine, write_session
from app.models import Setting
from app.protocol import RunError, RunStatus
from app.simulator import open_store
from app.simulator.scenario import CallSpec
from app.simulator.storage import StoredRun
from tests.unit.test_simulator import CLOCK, FLAKY, Rig, eventually, make_rig

__all__ = ["make_rig"]  # the fixture, used by name

Restart = Callable[..., Rig]


@pytest.fixture
def on_file(make_rig: Callable[..., Rig], database_url: str) -> Restart:
    """Builds a simulator on the test's database; call it again (after ``aclose``) for the restarted one."""

    def build(**options: object) -> Rig:
        return make_rig(store=open_store(database_url), **options)

    return build


async def _restart(rig: Rig, on_file: Restart, **options: object) -> Rig:
    await rig.simulator.aclose()
    again = on_file(**options)
    again.simulator.resume()
    return again


async def test_restart_round_opened_before_stays_answerable(on_file: Restart) -> None:
    first = on_file()
    task_id = await first.start(CLOCK)
    awaiting = await first.wait_for(task_id, "awaiting_tool_calls")

    second = await _restart(first, on_file)
    reply = await second.answer_all(CLOCK, awaiting, {"get_current_time": "noon"})

    assert reply.status_code == 200, reply.text
    assert reply.json()["sequence"] == 4
    done = await second.wait_for(task_id, "completed")
    assert "noon" in done["result"] and done["sequence"] == 5
    assert [(t, body.round) for t, body in second.simulator.received] == [(task_id, 1)]


async def test_restart_sends_deliveries_queued_before_with_their_webhook_ids(on_file: Restart) -> None:
    first = on_file(answers=[500], retry_schedule=(30.0,))
    task_id = await first.start(CLOCK)
    await eventually(lambda: first.simulator.get_status(CLOCK, task_id).status == "awaiting_tool_calls", "round 1")
    [failed] = first.simulator.attempts

    second = await _restart(first, on_file)

    await second.wait_for(task_id, "awaiting_tool_calls")
    assert [p["status"] for p in second.receiver.of(task_id)] == ["queued", "running", "awaiting_tool_calls"]
    assert second.receiver.deliveries[0].webhook_id == failed.webhook_id


async def test_restart_sends_nothing_again_of_a_run_delivered_before(on_file: Restart, tmp_path: Path) -> None:
    first = on_file()
    task_id = await first.start(CLOCK)
    awaiting = await first.wait_for(task_id, "awaiting_tool_calls")
    assert (await first.answer_all(CLOCK, awaiting, {"get_current_time": "noon"})).status_code == 200
    await first.wait_for(task_id, "completed")
    await eventually(lambda: len(first.simulator.attempts) == 5, "every delivery answered")

    await first.simulator.aclose()

    assert open_store(f"sqlite:///{tmp_path / 'sim.db'}").queued_deliveries() == []


async def test_restart_after_deadline_expires_the_round(on_file: Restart) -> None:
    first = on_file(round_ttl=0.3)
    task_id = await first.start(CLOCK)
    awaiting = await first.wait_for(task_id, "awaiting_tool_calls")
    await first.simulator.aclose()  # stopped before the round's timer fires
    await asyncio.sleep(0.4)  # the deadline passes while no simulator runs

    second = on_file(round_ttl=0.3)
    second.simulator.resume()

    expired = await second.wait_for(task_id, "expired")
    assert expired["error"]["code"] == "expired" and expired["sequence"] == 4
    reply = await second.answer_all(CLOCK, awaiting, {"get_current_time": "noon"})
    assert reply.status_code == 410
    assert second.simulator.received == []


async def test_restart_keeps_idempotency_keys(on_file: Restart) -> None:
    first = on_file()
    task_id = await first.start(CLOCK)
    [call] = (await first.wait_for(task_id, "awaiting_tool_calls"))["tool_calls"]
    results = [{"tool_call_id": call["id"], "output": "noon"}]
    accepted = await first.answer(CLOCK, task_id, 1, results, key="k-restart")
    await first.wait_for(task_id, "completed")

    second = await _restart(first, on_file)
    again = await second.answer(CLOCK, task_id, 1, results, key="k-restart")
    other = await second.answer(CLOCK, task_id, 1, [{**results[0], "output": "midnight"}], key="k-restart")

    assert again.status_code == 200 and again.json() == accepted.json()
    assert other.status_code == 422 and other.json()["error"]["code"] == "idempotency_key_reused"
    assert len(second.simulator.received) == 1


async def test_restart_fails_run_whose_failure_was_pending(on_file: Restart) -> None:
    first = on_file(step_delay=0)
    task_id = await first.start(FLAKY)
    [call] = (await first.wait_for(task_id, "awaiting_tool_calls"))["tool_calls"]
    first.simulator.step_delay = 30.0  # the answer is taken; the failure that follows waits
    error = [{"tool_call_id": call["id"], "output": "quote service down", "is_error": True}]
    assert (await first.answer(FLAKY, task_id, 1, error)).status_code == 200

    second = await _restart(first, on_file)

    failed = await second.wait_for(task_id, "failed")
    assert failed["error"] == {"code": "tool_error", "message": "fetch_quote failed: quote service down"}


async def test_restart_task_ids_continue_above_stored_ones(on_file: Restart) -> None:
    first = on_file()
    task_id = await first.start(CLOCK)

    second = await _restart(first, on_file)

    assert await second.start(CLOCK) == task_id + 1
    assert second.simulator.get_status(CLOCK, task_id).agent_id == CLOCK


async def test_answer_the_store_refuses_is_503_unavailable(on_file: Restart, database_url: str) -> None:
    rig = on_file()
    task_id = await rig.start(CLOCK)
    awaiting = await rig.wait_for(task_id, "awaiting_tool_calls")
    refusing = create_engine(database_url)
    with refusing.begin() as conn:  # the accepted answer cannot be stored: the database refuses the write
        conn.execute(text("DROP TABLE sim_tool_responses"))
    refusing.dispose()

    reply = await rig.answer_all(CLOCK, awaiting, {"get_current_time": "noon"})

    assert reply.status_code == 503, reply.text
    assert reply.json()["error"]["code"] == "unavailable"
    assert rig.simulator.get_status(CLOCK, task_id).status == "awaiting_tool_calls"  # the answer was not taken


async def test_task_saved_many_times_reads_back_as_last_saved_after_reopening(database_url: str) -> None:
    store = open_store(database_url)
    odd = 'it\'s 100% ? "quoted" -- Ørsted 東京 %s ?'
    for step in range(5):
        status = RunStatus(agent_id=CLOCK, task_id=7, status="running", sequence=step, result={"text": odd, "n": None})
        failure = RunError(code="tool_error", message=odd) if step % 2 == 1 else None  # set, then none again
        calls = {
            f"call_{step}": ("get_current_time", CallSpec.model_validate({"tool": "t", "as": "x", "arguments": odd}))
        }
        last = StoredRun(
            status=status, inputs={"q": odd}, outputs={}, errors={"t": step == 3}, next_step=step,
            calls=calls, used_ids={f"call_{n}" for n in range(step + 1)}, deadline=step * 1.5, failure=failure,
        )  # fmt: skip
        store.save(last, delivery=f"msg_{step}", key=(f"key {odd} {step}", odd))
        store.settle_delivery(f"msg_{step - 1}")  # its row goes with the next save (a loop runs)
    store.close()

    again = open_store(database_url)

    assert again.load(7) == last
    assert [webhook_id for webhook_id, _status in again.queued_deliveries()] == ["msg_4"]
    assert again.reply_to(f"key {odd} 4") == (odd, last.status)
    again.close()


@pytest.mark.sqlite_only("SQLite file locks between processes: PostgreSQL's server has no file to share")
def test_store_opened_beside_the_console_keeps_its_writes_visible_to_other_processes(tmp_path: Path) -> None:
    path = tmp_path / "console.db"
    engine = make_engine(f"sqlite:///{path}")
    with write_session(engine) as session:
        session.add(Setting(key="before", value="1"))
    store = open_store(f"sqlite:///{path}")  # the embedded simulator's store, on the console's open file
    _count_settings(path)  # a command-line tool comes and goes

    with write_session(engine) as session:
        session.add(Setting(key="after", value="1"))

    assert _count_settings(path) == 2  # what a restarted console or a command-line tool reads
    store.close()
    engine.dispose()


def _count_settings(path: Path) -> int:
    """Rows of the ``setting`` table as another process reads them."""
    tool = (
        "import sqlite3, sys; print(sqlite3.connect(sys.argv[1]).execute('select count(*) from setting').fetchone()[0])"
    )
    done = subprocess.run([sys.executable, "-c", tool, str(path)], capture_output=True, text=True, check=True)
    return int(done.stdout)
