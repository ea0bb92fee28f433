"""The database: engine, sessions; the schema is made and migrated by ``app.migrations`` (Alembic).

The database is a SQLite file or a PostgreSQL database (psycopg 3), as ``TOOLDESK_DATABASE_URL`` says
(``app.database_url``). SQLite runs in WAL mode with ``synchronous=FULL`` so that a committed delivery
survives a crash before we answer 2xx (contract: "answer 2xx only after the
delivery is stored durably"). Readers never block; writers take one
process-wide lock (SQLite has a single writer anyway), which keeps
``database is locked`` errors out of the worker threads. PostgreSQL commits durably by default
(``synchronous_commit=on``); its pool checks a connection before lending it, so a database restart costs one
reconnect, not a failed request.
All calls here are blocking: from async code, call them through
``asyncio.to_thread``.
"""

from __future__ import annotations

import base64
import json
import math
import os
import secrets
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, event
from sqlmodel import Session, create_engine

from app import migrations, models
from app.database_url import is_postgresql
from app.migrations.postgres import widen_integers
from app.services import audit  # noqa: F401  (registers the audit's before_flush hook on every session)

_write_lock = threading.Lock()


POOL_SIZE = 5
"""PostgreSQL connections a console keeps open; up to ``POOL_OVERFLOW`` more while busy (SQLite's pool is its own)."""
POOL_OVERFLOW = 15


def make_engine(database_url: str, *, migrate: bool = True) -> Engine:
    """An engine for ``sqlite:///path`` (creating the parent folder and a private file) or
    ``postgresql+psycopg://...``, with the schema or what it lacks: every migration the database has not had is
    applied (``app.migrations``, Alembic), unless ``migrate`` is off. Raises ``sqlalchemy.exc.SQLAlchemyError`` or
    ``OSError`` when the database cannot be opened or migrated."""
    if is_postgresql(database_url):
        widen_integers()  # the platform's 64-bit ids
        engine = create_engine(
            database_url,
            json_serializer=_json_text,
            pool_size=POOL_SIZE,
            max_overflow=POOL_OVERFLOW,
            pool_pre_ping=True,
            connect_args={"connect_timeout": 10, "application_name": "tooldesk"},
        )
        if migrate:
            migrations.upgrade(engine)
        return engine
    path = Path(database_url.removeprefix("sqlite:///"))
    if str(path) not in {"", ":memory:"}:
        path.parent.mkdir(parents=True, exist_ok=True)
        _private(path)
    engine = create_engine(
        database_url, connect_args={"check_same_thread": False, "timeout": 30}, json_serializer=_json_text
    )
    event.listen(engine, "connect", _on_connect)
    from app.services import run_search  # it imports this module: kept beside its one use

    run_search.register_fold(engine)
    if migrate:
        migrations.upgrade(engine)
    return engine


def _private(path: Path) -> None:
    """Make the database file and its ``-wal`` and ``-shm`` companions 0600 before SQLite opens them: Python
    handlers run as another user (when the console is root), and the WAL holds recent writes, the webhook secret
    among them. SQLite gives the companions it creates the main file's mode, so the main file is created 0600
    here first; companions left by an older version are tightened too."""
    os.close(os.open(path, os.O_RDWR | os.O_CREAT, 0o600))
    for candidate in (path, path.with_name(path.name + "-wal"), path.with_name(path.name + "-shm")):
        if candidate.exists():
            candidate.chmod(0o600)


def _json_text(value: Any) -> str:
    """JSON columns keep non-ASCII text as it is, so a search for "René" finds it. A NaN or infinite float (which
    the edges refuse, but a JSON API body parsed by Python may still carry) is stored as the string "NaN",
    "Infinity" or "-Infinity": SQLite's JSON functions cannot read the bare tokens, and one such row would break
    every later search."""
    try:
        return json.dumps(value, ensure_ascii=False, allow_nan=False)
    except ValueError:
        return json.dumps(_finite(value), ensure_ascii=False, allow_nan=False)


def _finite(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return "NaN" if value != value else ("Infinity" if value > 0 else "-Infinity")
    if isinstance(value, dict):
        return {key: _finite(child) for key, child in value.items()}
    if isinstance(value, list | tuple):
        return [_finite(child) for child in value]
    return value


def _on_connect(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=FULL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=30000")
    # SQLite's own checkpoint runs inside a commit, under the write lock: it stays only as the backstop (40 MB of
    # log); the webhook's writer checkpoints in a thread of its own, off that path (app.webhooks.checkpoint)
    cursor.execute("PRAGMA wal_autocheckpoint=10000")
    cursor.close()


@contextmanager
def read_session(engine: Engine) -> Iterator[Session]:
    """A session for queries, all of them on one snapshot of the database; objects stay readable after it closes.

    Without it, each statement would see what was committed since the one before: Python's ``sqlite3`` opens no
    transaction for a ``SELECT``, and PostgreSQL's default ``READ COMMITTED`` takes a snapshot per statement, so a
    run's rounds could be read before a submission commits and their results after it. So SQLite's session starts
    with ``BEGIN`` (a read transaction: one snapshot of the WAL until it ends), PostgreSQL's runs at
    ``REPEATABLE READ`` (a read-only transaction there never fails to serialize). The session rolls back at its end.
    Only reads belong in it, and short ones: no write or commit (writes go through ``write_session``, one writer at a
    time), no slow work between statements (on SQLite an open read keeps the WAL checkpoint from passing it).
    """
    with Session(engine, expire_on_commit=False) as session:
        if engine.dialect.name == "postgresql":
            session.connection(execution_options={"isolation_level": "REPEATABLE READ"})
        else:
            session.connection().exec_driver_sql("BEGIN")
        yield session


@contextmanager
def write_session(engine: Engine) -> Iterator[Session]:
    """A session that commits on success and rolls back on error, one writer at a time."""
    with _write_lock, Session(engine, expire_on_commit=False) as session:
        try:
            yield session
            session.commit()
        except BaseException:
            session.rollback()
            raise


@contextmanager
def write_connection(engine: Engine) -> Iterator[Connection]:
    """A Core connection in one transaction (committed on success), one writer at a time."""
    with _write_lock, engine.begin() as conn:
        yield conn


def ensure_webhook_secret(engine: Engine, configured: str) -> str:
    """The webhook secret: ``configured`` when set, else the one stored, else a new one (stored).

    Returns ``whsec_<base64 of 24 random bytes>`` for a generated secret.
    """
    if configured:
        return configured
    with write_session(engine) as session:
        stored = session.get(models.Setting, "webhook_secret")
        if stored is not None:
            return stored.value
        value = new_webhook_secret()
        session.add(models.Setting(key="webhook_secret", value=value))
        return value


def new_webhook_secret() -> str:
    """A fresh ``whsec_<base64 of 24 random bytes>``."""
    return "whsec_" + base64.b64encode(secrets.token_bytes(24)).decode()
