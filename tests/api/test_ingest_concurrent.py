"""Ingestion while another console writes to the same database, on SQLite and on PostgreSQL: a copy of a delivery
that another console is storing at that very moment (case C04), a new run another console is creating, and a newer
status another console is applying (contract, "sequence").

The other console is a second engine on the same database whose transaction the test holds open, uncommitted,
through the same raw SQL the webhook's writer uses (``app.services.fast_sql``), without this process's write lock,
as another process would. This console ingests meanwhile: on PostgreSQL its writer waits on the row the other
holds (the test waits until the server reports it waiting on a lock), on SQLite on the database's write lock;
then the other commits, and this console's answer must be what one console alone would have answered.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from sqlalchemy import Connection, Engine, select

from app.db import make_engine
from app.errors import DatabaseUnavailable
from app.models import Delivery, Run
from app.services.fast_sql import cursor_of, insert_row
from app.services.ingest import Outcome, Received, ingest_batch, ingest_delivery
from app.services.runs import record_run_started
from app.states import Verdict
from app.webhooks.body import ReadBody
from tests.builders import AGENT_ID, SECRET, encode, make_status, sign, wait_for

DELIVERIES = Delivery.__table__  # type: ignore[attr-defined]
RUNS = Run.__table__  # type: ignore[attr-defined]


@pytest.fixture
def engines(database_url: str) -> Iterator[tuple[Engine, Engine]]:
    """This console's engine and the other console's, on the test's database."""
    ours, theirs = make_engine(database_url), make_engine(database_url)
    yield ours, theirs
    ours.dispose()
    theirs.dispose()


@contextmanager
def other_console_writing(engine: Engine) -> Iterator[Connection]:
    """The other console's transaction, held open for the block and committed at its end."""
    with engine.connect() as conn, conn.begin():
        yield conn


def start_ingesting(engine: Engine, body: dict[str, Any], msg_id: str) -> asyncio.Task[Outcome]:
    """This console storing ``body`` (signed, webhook-id ``msg_id``) in a thread of its own."""
    raw = encode(body)
    headers = sign(raw, msg_id=msg_id)
    return asyncio.create_task(
        asyncio.to_thread(lambda: ingest_delivery(engine=engine, secret=SECRET, body=raw, headers=headers))
    )


async def blocked(engine: Engine) -> None:
    """On PostgreSQL, until a statement of this console waits on a row the other console holds; on SQLite the
    writer waits on the database's one write lock, which is not visible from outside (its answer is the same
    whether it waited or came after the commit)."""
    if engine.dialect.name == "postgresql":
        await wait_for(lambda: _waiting_on_a_lock(engine))


def _waiting_on_a_lock(engine: Engine) -> bool:
    with engine.connect() as conn:
        found = conn.exec_driver_sql(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'"
        )
        return bool(found.scalar_one())


def verdicts(engine: Engine, msg_id: str) -> list[str]:
    with engine.connect() as conn:
        rows = conn.execute(select(DELIVERIES.c.verdict).where(DELIVERIES.c.webhook_id == msg_id))
        return sorted(str(verdict) for (verdict,) in rows)


def run_row(engine: Engine, task_id: int) -> tuple[str, int]:
    with engine.connect() as conn:
        row = conn.execute(select(RUNS.c.status, RUNS.c.sequence).where(RUNS.c.task_id == task_id)).one()
        return str(row.status), int(row.sequence)


async def test_same_delivery_stored_by_two_consoles_at_once_is_applied_once(engines: tuple[Engine, Engine]):
    """C04: the platform's retry reaches this console while the other still stores the first copy; the retry
    waits for that commit and is recorded as a duplicate, answered 200."""
    ours, theirs = engines
    body = make_status(9001, status="running", sequence=1)
    with other_console_writing(theirs) as conn:
        _store_delivery(conn, "msg_c04", body)
        ingesting = start_ingesting(ours, body, "msg_c04")
        await blocked(ours)
    outcome = await ingesting

    assert (outcome.status_code, outcome.verdict) == (200, Verdict.DUPLICATE)
    assert verdicts(ours, "msg_c04") == [Verdict.APPLIED, Verdict.DUPLICATE]


async def test_new_run_created_by_two_consoles_at_once_is_applied_on_one_run(engines: tuple[Engine, Engine]):
    """Two first deliveries of one task_id (different webhook-ids) on two consoles: the one that loses the race to
    create the run is applied to the run the other made, not refused."""
    ours, theirs = engines
    with other_console_writing(theirs) as conn:
        now = time.time()
        insert_row(
            cursor_of(conn),
            conn.dialect,
            RUNS,
            {"task_id": 9002, "agent_id": AGENT_ID, "status": "running", "sequence": 1, "created_at": now,
             "updated_at": now},
        )  # fmt: skip
        ingesting = start_ingesting(ours, make_status(9002, status="completed", sequence=2), "msg_second")
        await blocked(ours)
    outcome = await ingesting

    assert (outcome.status_code, outcome.verdict) == (200, Verdict.APPLIED)
    assert run_row(ours, 9002) == ("completed", 2)
    assert verdicts(ours, "msg_second") == [Verdict.APPLIED]


async def test_older_delivery_while_other_console_applies_newer_is_history(engines: tuple[Engine, Engine]):
    """Contract, "sequence": a delivery never moves a run backwards, even when another console is applying a
    newer one at that moment: this console waits for it and records its older one as history."""
    ours, theirs = engines
    raw = encode(make_status(9003, status="running", sequence=1))
    ingest_delivery(engine=ours, secret=SECRET, body=raw, headers=sign(raw, msg_id="msg_first"))
    with other_console_writing(theirs) as conn:
        conn.execute(RUNS.update().where(RUNS.c.task_id == 9003).values(status="completed", sequence=5))
        ingesting = start_ingesting(ours, make_status(9003, status="failed", sequence=3), "msg_older")
        await blocked(ours)
    outcome = await ingesting

    assert (outcome.status_code, outcome.verdict) == (200, Verdict.HISTORY)
    assert run_row(ours, 9003) == ("completed", 5)


def _store_delivery(conn: Connection, msg_id: str, body: dict[str, Any]) -> None:
    """The other console's row for the same delivery, as its writer stores it (applied)."""
    raw = encode(body)
    insert_row(
        cursor_of(conn),
        conn.dialect,
        DELIVERIES,
        {
            "received_at": time.time(),
            "webhook_id": msg_id,
            "headers": {"webhook-id": msg_id},
            "body": raw,
            "body_length": len(raw),
            "body_truncated": False,
            "task_id": body["task_id"],
            "sequence": body["sequence"],
            "status": body["status"],
            "verdict": Verdict.APPLIED,
            "message": "stored by the other console",
            "answered_status": 200,
        },
    )


@pytest.mark.postgresql_only("deadlocks need two writers at once; SQLite has one")
async def test_batch_caught_in_a_deadlock_is_stored_again_not_answered_500(engines: tuple[Engine, Engine]):
    """Two consoles lock the same runs in opposite orders (each batch takes the deliveries as they arrived): the
    server aborts one of them. The batch it aborts is stored again once the other committed, and every delivery
    is answered 200, none 500."""
    ours, theirs = engines
    for task_id in (9004, 9005):
        raw = encode(make_status(task_id, status="running", sequence=1))
        ingest_delivery(engine=ours, secret=SECRET, body=raw, headers=sign(raw, msg_id=f"msg_first_{task_id}"))
    requests = []
    for task_id in (9004, 9005):
        raw = encode(make_status(task_id, status="completed", sequence=2))
        requests.append(Received(body=ReadBody.whole(raw), headers=sign(raw, msg_id=f"msg_done_{task_id}")))
    with other_console_writing(theirs) as conn:
        conn.exec_driver_sql("SET LOCAL deadlock_timeout = '60s'")  # the server aborts ours, never the other's
        conn.exec_driver_sql("SELECT 1 FROM run WHERE task_id = 9005 FOR UPDATE")
        batch = asyncio.create_task(
            asyncio.to_thread(lambda: ingest_batch(engine=ours, secret=SECRET, take=lambda: requests))
        )
        await blocked(ours)  # ours holds 9004 and waits on 9005
        conn.exec_driver_sql("SELECT 1 FROM run WHERE task_id = 9004 FOR UPDATE")  # the other way round
    results = await batch

    assert [(r.status_code, r.verdict) for r in results if isinstance(r, Outcome)] == [(200, Verdict.APPLIED)] * 2
    assert (run_row(ours, 9004), run_row(ours, 9005)) == (("completed", 2), ("completed", 2))


async def test_run_started_here_while_another_console_stores_its_first_delivery(engines: tuple[Engine, Engine]):
    """This console records a run it started while the other console's webhook creates that run: the start is
    recorded on the run the webhook made, which keeps its newer state (no IntegrityError, no 500)."""
    ours, theirs = engines
    with other_console_writing(theirs) as conn:
        now = time.time()
        insert_row(
            cursor_of(conn),
            conn.dialect,
            RUNS,
            {"task_id": 9006, "agent_id": AGENT_ID, "status": "running", "sequence": 1, "created_at": now,
             "updated_at": now},
        )  # fmt: skip
        starting = asyncio.create_task(
            asyncio.to_thread(
                lambda: record_run_started(
                    engine=ours,
                    agent_id=AGENT_ID,
                    task_id=9006,
                    string_inputs={"city": "Oslo"},
                    environment="dev",
                    started_by="console",
                    at=now - 1,
                )
            )
        )
        await blocked(ours)
    await starting

    assert run_row(ours, 9006) == ("running", 1)
    with ours.connect() as conn:
        row = conn.execute(select(RUNS.c.started_by, RUNS.c.string_inputs).where(RUNS.c.task_id == 9006)).one()
    assert (row.started_by, row.string_inputs) == ("console", {"city": "Oslo"})


@pytest.mark.postgresql_only("lock_timeout is PostgreSQL's; SQLite waits on its write lock (busy timeout)")
async def test_delivery_waiting_on_a_row_held_too_long_is_answered_503(engines: tuple[Engine, Engine]):
    """A transaction that holds the run's row and does not end (a stuck console, a hung client) makes the webhook
    give up within seconds with 503 ``database_unavailable`` and ``Retry-After``, not hang past the platform's
    timeout; nothing is stored and the platform's retry is applied once the row is free."""
    ours, theirs = engines
    raw = encode(make_status(9007, status="running", sequence=1))
    ingest_delivery(engine=ours, secret=SECRET, body=raw, headers=sign(raw, msg_id="msg_first_9007"))
    with other_console_writing(theirs) as conn:
        conn.exec_driver_sql("SELECT 1 FROM run WHERE task_id = 9007 FOR UPDATE")
        with pytest.raises(DatabaseUnavailable) as refused:  # the platform gives up after 10 s: answered before
            await asyncio.wait_for(
                start_ingesting(ours, make_status(9007, status="completed", sequence=2), "msg_stuck"), 10
            )
    assert (refused.value.status, refused.value.code, refused.value.retry_after) == (503, "database_unavailable", 5)
    assert verdicts(ours, "msg_stuck") == []

    retried = await start_ingesting(ours, make_status(9007, status="completed", sequence=2), "msg_stuck")
    assert (retried.status_code, retried.verdict) == (200, Verdict.APPLIED)
