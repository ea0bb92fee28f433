"""Where the simulator keeps its runs: four ``sim_``-prefixed tables in an SQLite database (or the console's
PostgreSQL database).

Embedded in the console, the tables live in the console's own file (``TOOLDESK_DATABASE_URL``), next to its tables
but never mixed with them: a console restart finds the simulated platform's open runs where they were (issue 8,
"The embedded simulator keeps its runs in the database"). The standalone simulator (``python -m app simulate``)
uses the file given by ``--database``, or an in-memory database without one (its runs end with the process); so
does a ``Simulator`` built without a store (tests).

- ``sim_run``: one row per task: its current status, inputs, outputs, the open round's calls, the round's
  deadline and the failure a running run is about to report.
- ``sim_tool_responses``: every accepted ``send_tool_responses``, in order (what ``/_control/received`` lists).
- ``sim_idempotency_key``: the reply given to each ``Idempotency-Key`` with its body's fingerprint (contract: "A
  repeated send_tool_responses with the same Idempotency-Key and body returns the first answer again").
- ``sim_delivery``: webhook deliveries not yet settled, with their ``webhook-id``; a row goes when its delivery is
  delivered, given up or dropped, so what is left after a stop is sent again at the next start. The row is
  removed with the store's next write (at most ``SETTLE_DELAY`` seconds later, and at ``close``), not in a
  transaction of its own: that one took the write lock on the event loop right after each answer, in the middle of
  the console's auto round trip. A simulator killed in between sends those deliveries again after its restart,
  with their ``webhook-id``: a duplicate, which receivers must accept anyway (contract, "Webhook delivery").

Each state change is one transaction (run, delivery, accepted responses and idempotency key together), written
before anything is sent or answered. Writes use ``synchronous=NORMAL`` in WAL mode: a commit survives the
process's death (``kill -9``), though not a power cut, and costs no disk flush on the event loop.
"""

from __future__ import annotations

import asyncio
import logging
import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import (
    JSON,
    Column,
    Engine,
    Float,
    Integer,
    MetaData,
    String,
    Table,
    create_engine,
    delete,
    event,
    func,
    select,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.exc import DBAPIError, SQLAlchemyError
from sqlalchemy.pool import StaticPool

from app.database_url import is_postgresql
from app.db import write_connection
from app.migrations.postgres import widen_integers
from app.protocol import RunError, RunStatus, ToolResponses
from app.services.fast_sql import cursor_of, insert_row, upsert_row
from app.simulator.scenario import CallSpec
from app.states import TERMINAL_STATUSES

__all__ = ["SimStore", "StoredRun", "open_store"]

log = logging.getLogger(__name__)

SETTLE_DELAY = 1.0
"""Seconds a settled delivery's row may wait for the store's next write before it is removed on its own."""

metadata = MetaData()

SIM_RUN = Table(
    "sim_run",
    metadata,
    Column("task_id", Integer, primary_key=True, autoincrement=False),
    Column("agent_id", String, nullable=False),
    Column("state", String, nullable=False, index=True),  # status.status, to find open runs
    Column("status", JSON, nullable=False),  # the RunStatus as JSON
    Column("inputs", JSON, nullable=False),
    Column("outputs", JSON, nullable=False),
    Column("errors", JSON, nullable=False),
    Column("next_step", Integer, nullable=False),
    Column("calls", JSON, nullable=False),  # call id → CallSpec (by alias) of the open round
    Column("used_ids", JSON, nullable=False),
    Column("deadline", Float, nullable=False),  # Unix seconds the open round expires (0: none open)
    Column("failure", JSON, nullable=True),  # the RunError a running run is about to fail with
    Column("updated_at", Float, nullable=False),
)
SIM_TOOL_RESPONSES = Table(
    "sim_tool_responses",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("task_id", Integer, nullable=False, index=True),
    Column("round", Integer, nullable=False),
    Column("body", JSON, nullable=False),
    Column("received_at", Float, nullable=False),
)
SIM_IDEMPOTENCY_KEY = Table(
    "sim_idempotency_key",
    metadata,
    Column("key", String, primary_key=True),
    Column("fingerprint", String, nullable=False),
    Column("reply", JSON, nullable=False),
    Column("stored_at", Float, nullable=False),
)
SIM_DELIVERY = Table(
    "sim_delivery",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("webhook_id", String, nullable=False, unique=True),
    Column("task_id", Integer, nullable=False),
    Column("body", JSON, nullable=False),  # the RunStatus delivered
    Column("queued_at", Float, nullable=False),
)


@dataclass
class StoredRun:
    """One task as stored: what ``Simulator`` needs to go on with it (the scenario is found by ``agent_id``)."""

    status: RunStatus
    inputs: dict[str, str]
    outputs: dict[str, str]
    errors: dict[str, bool]
    next_step: int
    calls: dict[str, tuple[str, CallSpec]]
    used_ids: set[str]
    deadline: float
    failure: RunError | None


def open_store(database_url: str = "sqlite://") -> SimStore:
    """A store on ``sqlite:///path`` (the file and the tables are created when missing), in memory for
    ``sqlite://``, or on the console's PostgreSQL database (``postgresql+psycopg://``, the tables made by its
    migrations). Raises ``sqlalchemy.exc.SQLAlchemyError`` or ``OSError`` when the database cannot be opened."""
    if is_postgresql(database_url):
        widen_integers()  # task ids up to 2**63 - 1, as on SQLite
        engine = create_engine(database_url, pool_size=2, max_overflow=3, pool_pre_ping=True)
        metadata.create_all(engine)
        return SimStore(engine)
    path = database_url.removeprefix("sqlite:///")
    in_memory = database_url in {"sqlite://", "sqlite:///:memory:"}
    if in_memory:
        engine = create_engine("sqlite://", poolclass=StaticPool, connect_args={"check_same_thread": False})
    else:
        if not Path(path).exists():  # private from the start, as the console's file
            Path(path).parent.mkdir(parents=True, exist_ok=True)
            os.close(os.open(path, os.O_RDWR | os.O_CREAT, 0o600))
        # Never open and close a file descriptor on an existing database here: closing it would drop every POSIX
        # lock this process holds on the file (the console's own connections'), and another process could then
        # delete the WAL under them.
        engine = create_engine(database_url, connect_args={"check_same_thread": False, "timeout": 30})
    event.listen(engine, "connect", _on_connect)
    metadata.create_all(engine)
    return SimStore(engine)


class SimStore:
    """Reads and writes the simulator's tables on ``engine``. Calls block (they are short); ``close()`` ends it."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._settled: list[str] = []  # webhook-ids settled, their rows not yet removed
        self._flush_timer: asyncio.TimerHandle | None = None

    def close(self) -> None:
        """Remove the rows of settled deliveries (when that fails, they are sent again after a restart: logged),
        then let the database go."""
        try:
            self.flush_settled()
        except SQLAlchemyError:
            log.exception("the simulator could not forget %s delivered webhooks", len(self._settled))
        self.engine.dispose()

    def highest_task_id(self) -> int:
        """The highest stored task_id, 0 when none."""
        with self.engine.connect() as conn:
            return int(conn.execute(select(func.max(SIM_RUN.c.task_id))).scalar() or 0)

    def load(self, task_id: int) -> StoredRun | None:
        """The stored task, ``None`` when the simulator never had it."""
        with self.engine.connect() as conn:
            row = conn.execute(select(SIM_RUN).where(SIM_RUN.c.task_id == task_id)).mappings().first()
        return None if row is None else _stored(row)

    def open_runs(self) -> list[StoredRun]:
        """Every task not in a terminal status, oldest first."""
        query = select(SIM_RUN).where(SIM_RUN.c.state.not_in(TERMINAL_STATUSES)).order_by(SIM_RUN.c.task_id)
        with self.engine.connect() as conn:
            return [_stored(row) for row in conn.execute(query).mappings()]

    def queued_deliveries(self) -> list[tuple[str, RunStatus]]:
        """Deliveries not yet settled, as ``(webhook-id, status)``, in the order they were queued."""
        settled = set(self._settled)
        with self.engine.connect() as conn:
            rows = conn.execute(select(SIM_DELIVERY.c.webhook_id, SIM_DELIVERY.c.body).order_by(SIM_DELIVERY.c.id))
            return [
                (webhook_id, RunStatus.model_validate(body)) for webhook_id, body in rows if webhook_id not in settled
            ]

    def save(
        self,
        run: StoredRun,
        *,
        delivery: str | None = None,
        responses: ToolResponses | None = None,
        key: tuple[str, str] | None = None,
    ) -> None:
        """In one transaction: the task as it is now, its status as a delivery with webhook-id ``delivery``, the
        accepted ``responses``, and the reply (the task's status) to idempotency ``key`` ``(key, fingerprint)``."""
        now = time.time()
        status = run.status.model_dump(mode="json")
        row = {
            "agent_id": run.status.agent_id, "state": run.status.status, "status": status, "inputs": run.inputs,
            "outputs": run.outputs, "errors": run.errors, "next_step": run.next_step,
            "calls": {call_id: [tool, spec.model_dump(by_alias=True)] for call_id, (tool, spec) in run.calls.items()},
            "used_ids": sorted(run.used_ids), "deadline": run.deadline,
            "failure": run.failure.model_dump(mode="json") if run.failure is not None else None, "updated_at": now,
        }  # fmt: skip
        settled = list(self._settled)
        task_id = run.status.task_id
        with write_connection(self.engine) as conn, _as_core_error(conn.dialect):
            cursor, dialect = cursor_of(conn), conn.dialect  # the driver's cursor: this runs on the event loop
            upsert_row(cursor, dialect, SIM_RUN, "task_id", {"task_id": task_id, **row})
            if settled:
                marks = ", ".join("?" * len(settled))
                cursor.execute(f"DELETE FROM {SIM_DELIVERY.name} WHERE webhook_id IN ({marks})", settled)
            if delivery is not None:
                values = {"webhook_id": delivery, "task_id": task_id, "body": status, "queued_at": now}
                insert_row(cursor, dialect, SIM_DELIVERY, values)
            if responses is not None:
                body = responses.model_dump(mode="json")
                values = {"task_id": task_id, "round": responses.round, "body": body, "received_at": now}
                insert_row(cursor, dialect, SIM_TOOL_RESPONSES, values)
            if key is not None:
                values = {"key": key[0], "fingerprint": key[1], "reply": status, "stored_at": now}
                insert_row(cursor, dialect, SIM_IDEMPOTENCY_KEY, values)
        if settled:
            self._forget_settled(settled)

    def settle_delivery(self, webhook_id: str) -> None:
        """Forget the delivery ``webhook_id``: delivered, given up or dropped; it is not sent again. Its row goes
        with the next write (module docstring), or after ``SETTLE_DELAY`` seconds (at once without a running loop)."""
        self._settled.append(webhook_id)
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            self.flush_settled()
            return
        if self._flush_timer is None:
            self._flush_timer = loop.call_later(SETTLE_DELAY, self.flush_settled)

    def flush_settled(self) -> None:
        """Remove the rows of the deliveries settled so far."""
        if self._flush_timer is not None:
            self._flush_timer.cancel()
            self._flush_timer = None
        settled = list(self._settled)
        if not settled:
            return
        with write_connection(self.engine) as conn:
            conn.execute(delete(SIM_DELIVERY).where(SIM_DELIVERY.c.webhook_id.in_(settled)))
        self._forget_settled(settled)

    def _forget_settled(self, settled: list[str]) -> None:
        del self._settled[: len(settled)]  # only appended meanwhile: those stay for the next write

    def reply_to(self, key: str) -> tuple[str, RunStatus] | None:
        """``(fingerprint, reply)`` stored for idempotency ``key``, ``None`` when the key is new."""
        query = select(SIM_IDEMPOTENCY_KEY.c.fingerprint, SIM_IDEMPOTENCY_KEY.c.reply).where(
            SIM_IDEMPOTENCY_KEY.c.key == key
        )
        with self.engine.connect() as conn:
            row = conn.execute(query).first()
        return None if row is None else (row.fingerprint, RunStatus.model_validate(row.reply))

    def tool_responses(self) -> list[tuple[int, ToolResponses]]:
        """Every accepted ``send_tool_responses`` as ``(task_id, body)``, oldest first."""
        query = select(SIM_TOOL_RESPONSES.c.task_id, SIM_TOOL_RESPONSES.c.body).order_by(SIM_TOOL_RESPONSES.c.id)
        with self.engine.connect() as conn:
            return [(task_id, ToolResponses.model_validate(body)) for task_id, body in conn.execute(query)]


@contextmanager
def _as_core_error(dialect: Dialect) -> Iterator[None]:
    """A driver's error from its cursor as Core's ``DBAPIError``: callers catch ``SQLAlchemyError`` (then 503)."""
    try:
        yield
    except dialect.loaded_dbapi.Error as exc:
        raise DBAPIError.instance(None, None, exc, dialect.loaded_dbapi.Error, dialect=dialect) from exc


def _stored(row: Any) -> StoredRun:
    return StoredRun(
        status=RunStatus.model_validate(row["status"]),
        inputs=dict(row["inputs"]),
        outputs=dict(row["outputs"]),
        errors=dict(row["errors"]),
        next_step=int(row["next_step"]),
        calls={call_id: (tool, CallSpec.model_validate(spec)) for call_id, (tool, spec) in row["calls"].items()},
        used_ids=set(row["used_ids"]),
        deadline=float(row["deadline"]),
        failure=RunError.model_validate(row["failure"]) if row["failure"] is not None else None,
    )


def _on_connect(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.close()
