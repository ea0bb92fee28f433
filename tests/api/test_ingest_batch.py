"""Group commit through the real webhook: deliveries that wait together are stored in one transaction, and each
keeps the verdict it would get alone (README, "Webhook"; issue 10, "Ingest").

A batch is made by holding the database's write lock (``app.db.write_connection``, which the webhook's writer
takes before it takes the deliveries waiting) while the deliveries arrive; once they all wait, the lock is let
go and the writer takes them all at once.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

import httpx
import pytest
from nicegui import app as nicegui_app

from app.config import get_settings
from app.db import write_connection
from app.protocol import RunStatus
from app.runtime import Runtime
from app.services import apply, ingest_store
from app.simulator.delivery import Deliverer
from app.webhooks import writer
from tests.builders import SECRET, Console, encode, make_status, sign, take_errors, wait_for


@asynccontextmanager
async def writes_held(runtime: Runtime) -> AsyncIterator[None]:
    """Hold the write lock in a thread of its own until the block ends."""
    holding, release = threading.Event(), threading.Event()

    def hold() -> None:
        with write_connection(runtime.engine):
            holding.set()
            release.wait(30)

    holder = asyncio.create_task(asyncio.to_thread(hold))
    await asyncio.to_thread(holding.wait, 10)
    try:
        yield
    finally:
        release.set()
        await holder


async def one_batch(console: Console, runtime: Runtime, posts: list[Callable[[], Any]]) -> list[httpx.Response]:
    """Send ``posts`` in this order while writes are held, so all of them wait, then let the writer take them as
    one batch; their answers, in the same order."""
    async with writes_held(runtime):
        sent = []
        for count, post in enumerate(posts, start=1):
            sent.append(asyncio.create_task(post()))
            await wait_for(lambda count=count: runtime.ingest.in_flight == count)  # queued in this order
    return list(await asyncio.gather(*sent))


def signed(console: Console, body: dict[str, Any], msg_id: str, **overrides: str) -> Callable[[], Any]:
    raw = encode(body)
    return lambda: console.post_webhook(raw, sign(raw, msg_id=msg_id) | overrides)


async def stored(console: Console, **filters: Any) -> list[dict[str, Any]]:
    return list((await console.get("/api/deliveries", params=filters)).json()["deliveries"])


async def test_batch_duplicate_webhook_id_in_same_batch_recorded_once_applied(console: Console, runtime: Runtime):
    first = make_status(8101, status="running", sequence=1)
    answers = await one_batch(
        console,
        runtime,
        [signed(console, first, "msg_twice"), signed(console, first, "msg_twice"), signed(console, first, "msg_other")],
    )

    assert [a.status_code for a in answers] == [200, 200, 200]
    # the same webhook-id again is a duplicate; another id with the same sequence is history
    assert [a.json()["verdict"] for a in answers] == ["applied", "duplicate", "history"]
    rows = {(d["webhook_id"], d["verdict"]) for d in await stored(console, task_id=8101)}
    assert rows == {("msg_twice", "applied"), ("msg_twice", "duplicate"), ("msg_other", "history")}
    assert (await console.run(8101))["sequence"] == 1


async def test_batch_webhook_id_stored_before_the_batch_is_a_duplicate_batch_mates_applied(
    console: Console, runtime: Runtime
):
    first = make_status(8131, status="running", sequence=1)
    assert (await signed(console, first, "msg_earlier")()).json()["verdict"] == "applied"
    then = make_status(8131, status="awaiting_tool_calls", sequence=2)
    answers = await one_batch(
        console,
        runtime,
        [
            signed(console, first, "msg_earlier"),
            signed(console, then, "msg_then"),
            signed(console, make_status(8132, status="running", sequence=1), "msg_another"),
        ],
    )

    assert [a.json()["verdict"] for a in answers] == ["duplicate", "applied", "applied"]
    rows = sorted((d["webhook_id"], d["verdict"]) for d in await stored(console, task_id=8131))
    assert rows == [("msg_earlier", "applied"), ("msg_earlier", "duplicate"), ("msg_then", "applied")]
    [pending] = await console.pending(8131)
    assert pending["round"] == 1
    assert (await console.run(8132))["status"] == "running"


async def test_batch_webhook_id_stored_by_another_console_meanwhile_is_a_duplicate_batch_mates_applied(
    console: Console, runtime: Runtime, monkeypatch: pytest.MonkeyPatch
):
    """On PostgreSQL another console may store a webhook-id after this batch read which of its webhook-ids are
    stored: the unique index refuses it, the batch is stored again one delivery at a time, and every delivery gets
    the answer it would get alone. The race is made here by hiding the stored webhook-id from that read."""
    first = make_status(8133, status="running", sequence=1)
    assert (await signed(console, first, "msg_raced")()).json()["verdict"] == "applied"
    monkeypatch.setattr(ingest_store, "_stored_ids", lambda cursor, checked: set())
    answers = await one_batch(
        console,
        runtime,
        [
            signed(console, make_status(8134, status="running", sequence=1), "msg_before_race"),
            signed(console, first, "msg_raced"),
            signed(console, make_status(8133, status="completed", sequence=2, result="ok"), "msg_after_race"),
        ],
    )

    assert [a.status_code for a in answers] == [200, 200, 200]
    assert [a.json()["verdict"] for a in answers] == ["applied", "duplicate", "applied"]
    rows = sorted((d["webhook_id"], d["verdict"]) for d in await stored(console, task_id=8133))
    assert rows == [("msg_after_race", "applied"), ("msg_raced", "applied"), ("msg_raced", "duplicate")]
    assert [d["verdict"] for d in await stored(console, task_id=8134)] == ["applied"]
    assert (await console.run(8133))["status"] == "completed"


async def test_batch_refused_and_good_delivery_each_get_their_own_answer(console: Console, runtime: Runtime):
    good = make_status(8102, status="running", sequence=1)
    forged = make_status(8103, status="running", sequence=1)
    answers = await one_batch(
        console,
        runtime,
        [signed(console, forged, "msg_forged", **{"webhook-signature": "v1,AAAA"}), signed(console, good, "msg_good")],
    )

    assert answers[0].status_code == 401 and answers[0].json()["error"]["code"] == "bad_signature"
    assert answers[1].status_code == 200 and answers[1].json()["verdict"] == "applied"
    [refused] = await stored(console, verdict="bad_signature")
    assert refused["webhook_id"] == "msg_forged"
    assert (await console.run(8102))["status"] == "running"
    assert (await console.get("/api/runs/8103")).status_code == 404  # a refused body never makes a run


async def test_batch_statuses_of_one_run_out_of_order_newest_wins(console: Console, runtime: Runtime):
    completed = make_status(8104, status="completed", sequence=3, result="done")
    running = make_status(8104, status="running", sequence=1)
    awaiting = make_status(8104, status="awaiting_tool_calls", sequence=2)
    answers = await one_batch(
        console,
        runtime,
        [signed(console, completed, "msg_s3"), signed(console, running, "msg_s1"), signed(console, awaiting, "msg_s2")],
    )

    assert [a.json()["verdict"] for a in answers] == ["applied", "history", "history"]
    run = await console.run(8104)
    assert (run["status"], run["sequence"]) == ("completed", 3)
    assert await console.pending(8104) == []  # the late awaiting status opened no round


async def test_batch_statuses_of_one_run_in_order_all_applied(console: Console, runtime: Runtime):
    running = make_status(8105, status="running", sequence=1)
    awaiting = make_status(8105, status="awaiting_tool_calls", sequence=2)
    answers = await one_batch(
        console, runtime, [signed(console, running, "msg_a1"), signed(console, awaiting, "msg_a2")]
    )

    assert [a.json()["verdict"] for a in answers] == ["applied", "applied"]
    [pending] = await console.pending(8105)
    assert pending["round"] == 1


async def test_batch_larger_than_an_answer_chunk_every_delivery_answered(console: Console, runtime: Runtime):
    """A committed batch is answered a chunk per turn of the event loop: the last chunk's deliveries are answered
    too, and the queue is free again afterwards."""
    count = writer.ANSWER_CHUNK + 8
    posts = [
        signed(console, make_status(8300 + n, status="running", sequence=1), f"msg_chunk{n}") for n in range(count)
    ]
    answers = await one_batch(console, runtime, posts)

    assert [a.status_code for a in answers] == [200] * count
    assert {a.json()["verdict"] for a in answers} == {"applied"}
    assert runtime.ingest.in_flight == 0
    assert (await console.run(8300 + count - 1))["status"] == "running"


async def test_batch_delivery_whose_apply_fails_answered_500_batch_mates_kept(
    console: Console, runtime: Runtime, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
):
    real = apply.apply_delivery

    def failing_for_8107(**kwargs: Any) -> Any:
        if kwargs["status"].task_id == 8107:
            raise RuntimeError("a bug in applying")
        return real(**kwargs)

    monkeypatch.setattr(apply, "apply_delivery", failing_for_8107)
    before = make_status(8106, status="running", sequence=1)
    broken = make_status(8107, status="running", sequence=1)
    after = make_status(8108, status="running", sequence=1)
    answers = await one_batch(
        console,
        runtime,
        [
            signed(console, before, "msg_before"),
            signed(console, broken, "msg_broken"),
            signed(console, after, "msg_after"),
        ],
    )

    assert [a.status_code for a in answers] == [200, 500, 200]
    error = answers[1].json()["error"]
    assert error["code"] == "internal" and "msg_broken" in error["message"]
    assert "Traceback" not in answers[1].text
    assert [line for line in take_errors(caplog) if "msg_broken" in line]
    assert (await console.run(8106))["status"] == "running" and (await console.run(8108))["status"] == "running"
    assert await stored(console, task_id=8107) == []  # nothing of it kept: the platform sends it again
    monkeypatch.setattr(apply, "apply_delivery", real)
    retried = await signed(console, broken, "msg_broken")()
    assert retried.status_code == 200 and retried.json()["verdict"] == "applied"


async def test_batch_statement_failing_in_the_database_fails_only_its_delivery(
    console: Console, runtime: Runtime, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
):
    """A statement fails in the database itself (not in Python), one whose result nobody reads: its delivery is
    answered 500 and not kept, and the deliveries before and after it in the batch are (its savepoint)."""
    real = apply.add_event

    def failing_for_8117(*, db: Any, task_id: int, **kwargs: Any) -> None:
        if task_id == 8117:
            db.execute("UPDATE run SET sequence = sequence / 0 WHERE task_id = ?", (task_id,))  # division by zero
        real(db=db, task_id=task_id, **kwargs)

    monkeypatch.setattr(apply, "add_event", failing_for_8117)
    bodies = [make_status(8116 + n, status="running", sequence=1) for n in range(3)]
    answers = await one_batch(
        console, runtime, [signed(console, body, f"msg_sql_{n}") for n, body in enumerate(bodies)]
    )

    assert [a.status_code for a in answers] == [200, 500, 200]
    assert "msg_sql_1" in answers[1].json()["error"]["message"]
    assert [line for line in take_errors(caplog) if "msg_sql_1" in line]
    assert (await console.run(8116))["status"] == "running" and (await console.run(8118))["status"] == "running"
    assert await stored(console, task_id=8117) == []
    assert [d["verdict"] for d in await stored(console, task_id=8118)] == ["applied"]
    monkeypatch.setattr(apply, "add_event", real)
    retried = await signed(console, bodies[1], "msg_sql_1")()
    assert retried.status_code == 200 and retried.json()["verdict"] == "applied"


@pytest.fixture
def queue_of_two(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TOOLDESK_INGEST_QUEUE", "2")
    get_settings.cache_clear()


async def test_full_queue_answers_503_with_retry_after_and_stores_nothing(
    queue_of_two: None, console: Console, runtime: Runtime
):
    bodies = [make_status(8110 + n, status="running", sequence=1) for n in range(5)]
    async with writes_held(runtime):
        waiting = [asyncio.create_task(signed(console, bodies[n], f"msg_q{n}")()) for n in range(2)]
        await wait_for(lambda: runtime.ingest.in_flight == 2)
        turned_away = [await signed(console, bodies[n], f"msg_q{n}")() for n in range(2, 5)]
    taken = await asyncio.gather(*waiting)

    assert [a.status_code for a in turned_away] == [503, 503, 503]
    assert {a.json()["error"]["code"] for a in turned_away} == {"overloaded"}
    assert all(int(a.headers["retry-after"]) >= 1 for a in turned_away)
    assert all(a.headers["x-content-type-options"] == "nosniff" for a in turned_away)
    assert [a.json()["verdict"] for a in taken] == ["applied", "applied"]
    assert sorted(d["webhook_id"] for d in await stored(console)) == ["msg_q0", "msg_q1"]
    again = await signed(console, bodies[2], "msg_q2")()  # the platform's retry, once there is room
    assert again.status_code == 200 and again.json()["verdict"] == "applied"


@pytest.fixture
def queue_of_one(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TOOLDESK_INGEST_QUEUE", "1")
    get_settings.cache_clear()


async def test_simulator_delivery_answered_503_is_sent_again_and_applied(
    queue_of_one: None, console: Console, runtime: Runtime
):
    """The simulator's sender (``app.simulator.delivery``) on its own: the embedded simulator keeps its runs under
    the same write lock, so it cannot start a run while writes are held."""
    tasks: set[asyncio.Task[None]] = set()

    def spawn(coroutine: Any) -> asyncio.Task[None]:
        task = asyncio.create_task(coroutine)
        tasks.add(task)
        return task

    async with httpx.AsyncClient(transport=httpx.ASGITransport(nicegui_app), base_url="http://127.0.0.1:8080") as http:
        sender = Deliverer(
            url="http://127.0.0.1:8080/webhooks/sudoiq",
            secret=SECRET,
            http=http,
            retry_schedule=[0.05, 0.1, 0.2, 0.5, 1, 2],
            spawn=spawn,
        )
        async with writes_held(runtime):
            filler = asyncio.create_task(signed(console, make_status(8120, status="running", sequence=1), "msg_fill")())
            await wait_for(lambda: runtime.ingest.in_flight == 1)
            webhook_id = sender.enqueue(RunStatus.model_validate(make_status(8121, status="running", sequence=1)))
            await wait_for(lambda: [a for a in sender.attempts if a.http_status == 503])
        await filler
        await wait_for(lambda: [a for a in sender.attempts if a.outcome == "delivered"], within=15)
        await asyncio.gather(*tasks)

    assert [a.http_status for a in sender.attempts][-1] == 200
    assert {a.webhook_id for a in sender.attempts} == {webhook_id}  # sent again with the same webhook-id
    assert [d["verdict"] for d in await stored(console, task_id=8121)] == ["applied"]  # the 503 stored nothing
    assert (await console.run(8121))["status"] == "running"


async def test_writer_behind_answers_503_before_the_queue_is_full(
    console: Console, runtime: Runtime, monkeypatch: pytest.MonkeyPatch
):
    """The queue's other cap: when the oldest delivery waiting has waited past the limit, with more than a few
    waiting, a new one is turned away at once though ``TOOLDESK_INGEST_QUEUE`` (1,000) is far off."""
    monkeypatch.setattr(writer, "BEHIND_AT_LEAST", 1)
    monkeypatch.setattr(writer, "MAX_WAIT_SECONDS", 0.0)
    bodies = [make_status(8130 + n, status="running", sequence=1) for n in range(3)]
    async with writes_held(runtime):
        waiting = [asyncio.create_task(signed(console, bodies[n], f"msg_b{n}")()) for n in range(2)]
        await wait_for(lambda: runtime.ingest.in_flight == 2)
        turned_away = await signed(console, bodies[2], "msg_b2")()
    taken = await asyncio.gather(*waiting)

    assert turned_away.status_code == 503 and turned_away.json()["error"]["code"] == "overloaded"
    assert "the oldest for" in turned_away.json()["error"]["message"]
    assert int(turned_away.headers["retry-after"]) >= 1
    assert [a.json()["verdict"] for a in taken] == ["applied", "applied"]
    assert sorted(d["webhook_id"] for d in await stored(console)) == ["msg_b0", "msg_b1"]
    again = await signed(console, bodies[2], "msg_b2")()  # the platform's retry, once the writer caught up
    assert again.status_code == 200 and again.json()["verdict"] == "applied"


class _Recording:
    """A DBAPI cursor that records each statement's text before running it."""

    def __init__(self, cursor: Any, statements: list[str]) -> None:
        self._cursor, self._statements = cursor, statements

    def execute(self, sql: str, parameters: Any = (), /) -> _Recording:
        self._statements.append(sql)
        self._cursor.execute(sql, parameters)
        return self

    def executemany(self, sql: str, rows: Any, /) -> None:
        self._statements.append(sql)
        self._cursor.executemany(sql, rows)

    def fetchone(self) -> Any:
        return self._cursor.fetchone()

    def fetchall(self) -> Any:
        return self._cursor.fetchall()

    def __iter__(self) -> Any:
        return iter(self._cursor)

    @property
    def lastrowid(self) -> Any:
        return getattr(self._cursor, "lastrowid", 0)


def _life(task_id: int, prefix: str) -> list[tuple[dict[str, Any], str]]:
    """A run's deliveries: running, a round of two calls, running, completed, then a copy and a late one."""
    calls = [
        {"id": "call_1", "name": "get_weather", "arguments": {"city": "Oslo"}},
        {"id": "call_2", "name": "get_current_time", "arguments": {"timezone": "UTC"}},
    ]
    statuses = [
        make_status(task_id, status="running", sequence=1),
        make_status(task_id, sequence=2, tool_calls=calls),
        make_status(task_id, status="running", sequence=3),
        make_status(task_id, status="completed", sequence=4, result="done"),
    ]
    bodies = [(status, f"{prefix}_{n}") for n, status in enumerate(statuses)]
    return [*bodies, bodies[2], (make_status(task_id, status="running", sequence=2), f"{prefix}_late")]


async def test_batch_reads_its_runs_and_writes_its_timeline_in_one_statement_each_as_one_at_a_time_would(
    console: Console, runtime: Runtime, monkeypatch: pytest.MonkeyPatch
):
    """On PostgreSQL each statement is an exchange with the server: a batch reads all its runs at once and writes
    all its timeline lines at once, and what it stores is what the same deliveries store one at a time."""
    from app.services import ingest

    statements: list[str] = []
    for module in (ingest, apply):
        real = module.cursor_of
        monkeypatch.setattr(module, "cursor_of", lambda conn, real=real: _Recording(real(conn), statements))
    batched = [*_life(8801, "msg_life_a"), *_life(8802, "msg_life_b")]
    answers = await one_batch(console, runtime, [signed(console, body, msg_id) for body, msg_id in batched])
    run_reads = [sql for sql in statements if sql.startswith("SELECT") and "FROM run WHERE task_id" in sql]
    timeline_writes = [sql for sql in statements if sql.startswith("INSERT INTO event")]
    monkeypatch.undo()
    for body, msg_id in _life(8811, "msg_alone_a"):  # the same, one delivery at a time
        await signed(console, body, msg_id)()

    verdicts = ["applied"] * 4 + ["duplicate", "history"]
    assert [answer.json()["verdict"] for answer in answers] == verdicts * 2
    assert len(run_reads) == 1 and "IN (?, ?)" in run_reads[0]
    assert len(timeline_writes) == 1
    alone, together = await console.run(8811), await console.run(8801)
    for key in ("status", "sequence", "result", "ended_at"):
        assert (together[key] is None) == (alone[key] is None) and (key == "ended_at" or together[key] == alone[key])
    assert [(e["kind"], e["summary"]) for e in together["events"]] == [
        (e["kind"], e["summary"].replace("8811", "8801")) for e in alone["events"]
    ]
    assert (await console.run(8802))["status"] == "completed"


async def test_batch_run_created_by_another_console_meanwhile_is_applied_on_that_run(
    console: Console, runtime: Runtime, monkeypatch: pytest.MonkeyPatch
):
    """On PostgreSQL another console may create a run after this batch read its runs (a run not stored yet is not
    locked): its key refuses the second, the batch is stored again one delivery at a time, and each delivery is
    applied on the run that is there. The race is made here by hiding the stored run from that read."""
    assert (
        await signed(console, make_status(8141, status="running", sequence=1), "msg_run_first")()
    ).status_code == 200
    monkeypatch.setattr(apply, "read_runs", lambda conn, cursor, task_ids: dict.fromkeys(task_ids))
    answers = await one_batch(
        console,
        runtime,
        [
            signed(console, make_status(8142, status="running", sequence=1), "msg_run_mate"),
            signed(console, make_status(8141, status="completed", sequence=2, result="ok"), "msg_run_raced"),
        ],
    )

    assert [(a.status_code, a.json()["verdict"]) for a in answers] == [(200, "applied"), (200, "applied")]
    run = await console.run(8141)
    assert (run["status"], run["sequence"], run["result"]) == ("completed", 2, "ok")
    assert [e["summary"] for e in run["events"] if e["kind"] == "state"] == [
        "sequence 1: running",
        "sequence 2: running → completed",
    ]
    assert (await console.run(8142))["status"] == "running"


async def test_batch_webhook_id_reused_for_another_run_applies_the_copy_that_arrived_first(
    console: Console, runtime: Runtime
):
    """A batch stores its runs in task_id order; a sender that reuses a webhook-id for another run still gets the
    copy that arrived first applied, as one at a time, even when its run's task_id is the higher one."""
    answers = await one_batch(
        console,
        runtime,
        [
            signed(console, make_status(8153, status="running", sequence=1), "msg_reused"),
            signed(console, make_status(8151, status="running", sequence=1), "msg_reused"),
            signed(console, make_status(8152, status="running", sequence=1), "msg_reuse_mate"),
        ],
    )

    assert [a.json()["verdict"] for a in answers] == ["applied", "duplicate", "applied"]
    assert (await console.run(8153))["status"] == "running"
    assert (await console.get("/api/runs/8151")).status_code == 404  # its copy was a duplicate: no run
    assert (await console.run(8152))["status"] == "running"
