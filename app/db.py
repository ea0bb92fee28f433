"""The SQLite database: engine, sessions, schema creation.

SQLite runs in WAL mode with ``synchronous=FULL`` so that a committed delivery
survives a crash before we answer 2xx (contract: "answer 2xx only after the
delivery is stored durably"). Readers never block; writers take one
process-wide lock (SQLite has a single writer anyway), which keeps
``database is locked`` errors out of the worker threads.
All calls here are blocking: from async code, call them through
``asyncio.to_thread``.
"""

from __future__ import annotations

import base64
import json
import math
import os
import re
import secrets
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from enum import Enum
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, event
from sqlmodel import Session, SQLModel, create_engine

from app import models, run_counts
from app.answerers import AUTO, INBOX_USER, Answerer
from app.services import audit  # noqa: F401  (registers the audit's before_flush hook on every session)
from app.states import HandlerKind

_write_lock = threading.Lock()


def make_engine(database_url: str) -> Engine:
    """An engine for ``sqlite:///path``; creates the parent folder and the schema."""
    path = Path(database_url.removeprefix("sqlite:///"))
    if str(path) not in {"", ":memory:"}:
        path.parent.mkdir(parents=True, exist_ok=True)
        _private(path)
    engine = create_engine(
        database_url, connect_args={"check_same_thread": False, "timeout": 30}, json_serializer=_json_text
    )
    event.listen(engine, "connect", _on_connect)
    SQLModel.metadata.create_all(engine)
    _add_missing_columns(engine)
    _add_missing_indexes(engine)
    _upgrade_answered_by(engine)
    run_counts.install(engine)
    _add_search_index(engine)
    return engine


def _add_search_index(engine: Engine) -> None:
    """The runs search's trigram index and the triggers that keep it in step (``app.services.run_search``): made
    and filled from the stored runs once, on the first start of a database without it (a fresh one, or one made
    by an older version)."""
    from app.services import run_search  # kept beside its one use, so this file's imports stay as they were

    run_search.create_index(engine)


def _private(path: Path) -> None:
    """Make the database file and its ``-wal`` and ``-shm`` companions 0600 before SQLite opens them: Python
    handlers run as another user (when the console is root), and the WAL holds recent writes, the webhook secret
    among them. SQLite gives the companions it creates the main file's mode, so the main file is created 0600
    here first; companions left by an older version are tightened too."""
    os.close(os.open(path, os.O_RDWR | os.O_CREAT, 0o600))
    for candidate in (path, path.with_name(path.name + "-wal"), path.with_name(path.name + "-shm")):
        if candidate.exists():
            candidate.chmod(0o600)


def _add_missing_columns(engine: Engine) -> None:
    """Additive schema changes for a database made by an older version: every column the models have and the
    table lacks is added (new columns are nullable or have a default). Nothing is altered; the one column ever
    dropped is the old free-text ``answered_by`` (see ``_upgrade_answered_by``)."""
    with engine.begin() as conn:
        for table in SQLModel.metadata.sorted_tables:
            present = {row[1] for row in conn.exec_driver_sql(f'PRAGMA table_info("{table.name}")')}
            for column in table.columns:
                if column.name in present:
                    continue
                kind = column.type.compile(dialect=engine.dialect)
                default = getattr(column.default, "arg", None) if column.default is not None else None
                default = default.value if isinstance(default, Enum) else default
                suffix = f" DEFAULT {default!r}" if isinstance(default, int | float | str) else ""
                conn.exec_driver_sql(f'ALTER TABLE "{table.name}" ADD COLUMN "{column.name}" {kind}{suffix}')


_INDEXED_LATER = ("draft", "delivery", "round")
"""Tables that gained an index after databases with them were made (``create_all`` makes only missing tables)."""


def _add_missing_indexes(engine: Engine) -> None:
    """Additive: the indexes of ``_INDEXED_LATER`` tables that an older database lacks (the draft table's unique
    index over a person's typed drafts, which hold no rows in such a database; ``delivery.received_at`` and
    ``round.submitted_at``, built once at the first start: a few seconds for a million deliveries)."""
    with engine.begin() as conn:
        for table in SQLModel.metadata.sorted_tables:
            if table.name in _INDEXED_LATER:
                for index in table.indexes:
                    index.create(conn, checkfirst=True)


_ANSWERED_TABLES = ("round", "tool_result", "draft", "outbox")
_OLD_HANDLER = re.compile(r"^(static|rules|python) handler v(\d+)$")
_OLD_REPLAY = re.compile(r"^replay of run (\d+)$")


def _upgrade_answered_by(engine: Engine) -> None:
    """Once, for a database written before answerers were data: fill the answerer columns from the old
    ``answered_by`` text of rounds, tool results, drafts and outbox items (and the outbox's per-call
    ``sources``), then drop that text column, which the new rows no longer fill (it was ``NOT NULL``)."""
    with engine.begin() as conn:
        for table in _ANSWERED_TABLES:
            present = {row[1] for row in conn.exec_driver_sql(f'PRAGMA table_info("{table}")')}
            if "answered_by" not in present:
                continue
            texts = conn.exec_driver_sql(f'SELECT DISTINCT answered_by FROM "{table}" WHERE answered_by IS NOT NULL')
            for (text,) in texts.all():
                answerer = _old_answerer(text)
                conn.exec_driver_sql(
                    f'UPDATE "{table}" SET answered_kind = ?, answered_version = ?, answered_user = ?, '
                    "answered_replay_of = ? WHERE answered_by = ?",
                    (answerer.kind.value, answerer.version, answerer.user, answerer.replay_of, text),
                )
            if table == "outbox":
                for item_id, sources in conn.exec_driver_sql("SELECT id, sources FROM outbox").all():
                    upgraded = {
                        call: _old_answerer(text).model_dump(mode="json") for call, text in json.loads(sources).items()
                    }
                    conn.exec_driver_sql("UPDATE outbox SET sources = ? WHERE id = ?", (_json_text(upgraded), item_id))
            conn.exec_driver_sql(f'ALTER TABLE "{table}" DROP COLUMN answered_by')


def _old_answerer(text: str) -> Answerer:
    """The answerer an old ``answered_by`` text named: "rules handler v3", "replay of run 1001", "handlers
    (auto)", "person (console)" (the inbox), or any other name (a person or script through the API)."""
    if text == AUTO.text:
        return AUTO
    if text == "person (console)":
        return Answerer.person(INBOX_USER)
    if handler := _OLD_HANDLER.match(text):
        return Answerer.handler(HandlerKind(handler.group(1)), int(handler.group(2)))
    if replay := _OLD_REPLAY.match(text):
        return Answerer.replay(int(replay.group(1)))
    return Answerer.person(text)


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
    """A session for queries; objects stay readable after it closes."""
    with Session(engine, expire_on_commit=False) as session:
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
