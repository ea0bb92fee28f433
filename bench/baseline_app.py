"""The baseline for ``bench/ingest.py``: the least a correct webhook receiver does.

One Starlette route, ``POST /webhooks/sudoiq``: read the raw body, verify it with
``standardwebhooks``, INSERT the raw body and its ``webhook-id`` into a SQLite
file (WAL, ``synchronous=FULL``), commit, answer 200. The SQLite work runs in a
thread (``asyncio.to_thread``, as the console's route does) under one process-wide lock, like the
console's ``write_session``. No ORM, no parsing into models, no applying.

Settings come from the environment, so uvicorn can import it by name::

    BENCH_DATABASE=/tmp/x/baseline.db BENCH_WEBHOOK_SECRET=whsec_... \\
        .venv/bin/uvicorn baseline_app:app --app-dir bench --port 8091
"""

from __future__ import annotations

import asyncio
import os
import sqlite3
import threading
import time

from standardwebhooks.webhooks import Webhook, WebhookVerificationError
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

DATABASE = os.environ.get("BENCH_DATABASE", "baseline.db")
SECRET = os.environ.get("BENCH_WEBHOOK_SECRET", "")

_lock = threading.Lock()


def _connect(path: str) -> sqlite3.Connection:
    connection = sqlite3.connect(path, check_same_thread=False, timeout=30, isolation_level=None)
    connection.execute("PRAGMA journal_mode=WAL")
    connection.execute("PRAGMA synchronous=FULL")
    connection.execute(
        "CREATE TABLE IF NOT EXISTS delivery ("
        " id INTEGER PRIMARY KEY,"
        " webhook_id TEXT NOT NULL UNIQUE,"
        " received_at REAL NOT NULL,"
        " body BLOB NOT NULL)"
    )
    return connection


_connection = _connect(DATABASE)


def _store(webhook_id: str, body: bytes) -> None:
    """One INSERT in its own committed transaction (a duplicate id is ignored)."""
    with _lock:
        _connection.execute("BEGIN IMMEDIATE")
        try:
            _connection.execute(
                "INSERT OR IGNORE INTO delivery (webhook_id, received_at, body) VALUES (?, ?, ?)",
                (webhook_id, time.time(), body),
            )
        except BaseException:
            _connection.execute("ROLLBACK")
            raise
        _connection.execute("COMMIT")


async def receive(request: Request) -> JSONResponse:
    body = await request.body()
    headers = dict(request.headers)
    if not SECRET:
        return JSONResponse({"error": "BENCH_WEBHOOK_SECRET is not set"}, status_code=500)
    try:
        Webhook(SECRET).verify(body, headers, json_parse=False)
    except WebhookVerificationError as exc:
        return JSONResponse({"error": str(exc)}, status_code=401)
    await asyncio.to_thread(_store, headers["webhook-id"], body)
    return JSONResponse({"ok": True})


app = Starlette(routes=[Route("/webhooks/sudoiq", receive, methods=["POST"])])
