"""WAL checkpoints off the webhook's commit path (``Checkpointer``).

In WAL mode every commit appends to the ``-wal`` file; a checkpoint copies those pages into the database file
and fsyncs it. SQLite's automatic checkpoint runs inside the commit that crosses its threshold, while that
commit still holds the console's write lock (``app.db.write_connection``): under a steady stream of webhook
batches that was every few hundred milliseconds, each one a pause of tens of milliseconds for every delivery
waiting behind it (the 500 deliveries/s row of ``make bench``). The writer (``app.webhooks.writer``) kicks this
thread after each batch instead; it runs a ``PASSIVE`` checkpoint on a connection of its own, at most every
``EVERY`` seconds, which never takes the write lock: writers go on appending to the log while it copies.

Durability is unchanged: a commit is durable once its WAL frames are synced (``synchronous=FULL``), whoever
copies them later. ``app.db`` raises SQLite's own threshold far above what this thread lets the log reach, so
it remains only the backstop (a console with no webhook traffic, or this thread stopped).
"""

from __future__ import annotations

import logging
import threading
import time

from sqlalchemy import Engine
from sqlalchemy.exc import SQLAlchemyError

log = logging.getLogger("tooldesk")

EVERY = 0.2
"""Seconds between checkpoints at most, while batches keep coming."""


class Checkpointer:
    """A daemon thread that checkpoints ``engine``'s WAL after ``kick`` (any thread), then waits ``EVERY``."""

    def __init__(self, *, engine: Engine) -> None:
        self._engine = engine
        self._wake = threading.Event()
        self._stopping = False
        self._thread: threading.Thread | None = None
        self._start_lock = threading.Lock()

    def kick(self) -> None:
        """Checkpoint soon (within ``EVERY`` s); starts the thread on first use. Nothing on PostgreSQL, whose own
        checkpointer process does this work (a WAL file is SQLite's)."""
        if self._engine.dialect.name != "sqlite":
            return
        if self._thread is None:
            with self._start_lock:
                if self._thread is None:
                    self._stopping = False
                    self._thread = threading.Thread(target=self._run, name="tooldesk-checkpoint", daemon=True)
                    self._thread.start()
        self._wake.set()

    def stop(self, timeout: float = 10.0) -> None:
        """End the thread (a checkpoint under way finishes first); blocking, call it from a thread."""
        thread = self._thread
        if thread is None:
            return
        self._stopping = True
        self._wake.set()
        thread.join(timeout)
        self._thread = None

    def _run(self) -> None:
        while True:
            self._wake.wait()
            if self._stopping:
                return
            self._wake.clear()
            try:
                with self._engine.connect() as conn:
                    conn.exec_driver_sql("PRAGMA wal_checkpoint(PASSIVE)").all()
            except SQLAlchemyError as exc:  # a locked or closing database: the next kick tries again
                log.warning("WAL checkpoint failed: %s", exc)
            if self._stopping:
                return
            time.sleep(EVERY)
