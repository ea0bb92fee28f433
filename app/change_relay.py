"""Live push across consoles: several consoles on one PostgreSQL database tell each other what they changed, with
PostgreSQL's ``LISTEN``/``NOTIFY`` (no polling).

Each console has an id (``console_id``, random at each start) and two connections of its own, outside the
engine's pool, each on a thread of its own:

- the *sender* runs ``SELECT pg_notify('tooldesk_changes', '<console id>:<task ids>')`` for the task ids this
  console emitted (``app.changes.Changes.relay``: once a flush, so a burst costs at most ten notifications a
  second, and always after the commits that made them, since ``changes.emit`` follows a commit). A long list is
  cut into payloads under PostgreSQL's 8,000 bytes. ``'<console id>:presence'`` follows a typed-draft save or
  claim (``app.services.typed_drafts``), ``'<console id>:secret'`` a rotation of the webhook secret.
- the *listener* runs ``LISTEN tooldesk_changes`` and hands what the others sent to the event loop: task ids to
  ``changes.emit_remote`` (open tabs refresh as for a local change, and ``app.ui.shared_reads`` re-reads those
  runs), ``presence`` to ``typed_drafts.saved_elsewhere``, ``secret`` to ``on_secret``. Its own notifications
  come back to it too and are skipped by their id. When its connection drops it connects again (after 0.5 s,
  then doubling up to 10 s) and then has every cache read everything again (``emit_remote(everything=True)``),
  since notifications sent meanwhile are lost.

Only on PostgreSQL (``app.runtime`` makes one when the engine's dialect is ``postgresql``); a console on SQLite
is alone on its file (``app.console_lock``) and has nobody to tell.
"""

from __future__ import annotations

import asyncio
import logging
import queue
import secrets
import threading
from collections.abc import Callable, Iterable

import psycopg
from sqlalchemy import URL

from app.changes import Changes
from app.services import typed_drafts

log = logging.getLogger("tooldesk")

CHANNEL = "tooldesk_changes"
PAYLOAD_CHARS = 7900
"""Longest payload sent: PostgreSQL refuses one of 8,000 bytes or more (the payload is ASCII)."""
PRESENCE = "presence"
SECRET = "secret"
FIRST_RETRY_SECONDS = 0.5
MAX_RETRY_SECONDS = 10.0
LISTEN_POLL_SECONDS = 0.5
"""How often the listener looks up from waiting to see whether it should stop (not a poll of the database)."""
LISTENER, SENDER = "change-listener", "change-sender"


def libpq_url(url: URL) -> str:
    """``postgresql+psycopg://user:pw@host:port/db`` as the plain ``postgresql://...`` URI psycopg connects to."""
    return url.set(drivername="postgresql").render_as_string(hide_password=False)


def payloads(console_id: str, task_ids: Iterable[int]) -> list[str]:
    """``'<console id>:<id>,<id>,...'`` notifications for ``task_ids``, each at most ``PAYLOAD_CHARS`` long."""
    out: list[str] = []
    prefix = f"{console_id}:"
    current: list[str] = []
    length = len(prefix)
    for task_id in sorted(task_ids):
        text = str(task_id)
        if current and length + 1 + len(text) > PAYLOAD_CHARS:
            out.append(prefix + ",".join(current))
            current, length = [], len(prefix)
        current.append(text)
        length += len(text) + 1
    if current:
        out.append(prefix + ",".join(current))
    return out


def parse(payload: str) -> tuple[str, str | frozenset[int]] | None:
    """``(console id, task ids)`` or ``(console id, "presence" | "secret")``; ``None`` for a payload this version
    does not read (another program on the channel, a newer console)."""
    console_id, _, rest = payload.partition(":")
    if not console_id or not rest:
        return None
    if rest in {PRESENCE, SECRET}:
        return console_id, rest
    try:
        return console_id, frozenset(int(part) for part in rest.split(","))
    except ValueError:
        return None


class ChangeRelay:
    """One console's sender and listener (module docstring). ``start()`` on the event loop, ``close()`` at the
    end; ``on_secret`` runs on the event loop when another console rotated the webhook secret."""

    def __init__(self, *, url: URL, changes: Changes, on_secret: Callable[[], None]) -> None:
        self.console_id = secrets.token_hex(6)
        self._dsn = libpq_url(url)
        self._changes = changes
        self._on_secret = on_secret
        self._outgoing: queue.SimpleQueue[str | None] = queue.SimpleQueue()
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self._loop: asyncio.AbstractEventLoop | None = None
        self.listening = threading.Event()
        """Set once the listener's ``LISTEN`` is in place (cleared while it reconnects)."""

    def start(self) -> None:
        """Hook into ``changes`` and ``typed_drafts`` and start both threads; on the event loop's thread."""
        self._loop = asyncio.get_running_loop()
        self._changes.relay = self.send_runs
        typed_drafts.on_saved.append(self.send_presence)
        for target, name in ((self._listen, LISTENER), (self._send, SENDER)):
            thread = threading.Thread(target=target, name=name, daemon=True)
            thread.start()
            self._threads.append(thread)

    def send_runs(self, task_ids: Iterable[int]) -> None:
        """Tell the other consoles that runs ``task_ids`` changed (0: agents or handlers); any thread."""
        for payload in payloads(self.console_id, task_ids):
            self._outgoing.put(payload)

    def send_presence(self) -> None:
        """Tell the other consoles that a typed draft or a claim was saved; any thread."""
        self._outgoing.put(f"{self.console_id}:{PRESENCE}")

    def send_secret(self) -> None:
        """Tell the other consoles that the webhook secret was rotated; any thread."""
        self._outgoing.put(f"{self.console_id}:{SECRET}")

    async def aclose(self) -> None:
        """Stop both threads and close their connections: what is queued is sent first; the listener ends on its
        own within ``LISTEN_POLL_SECONDS``, not waited for (a daemon thread, it holds nothing to save)."""
        if self._changes.relay == self.send_runs:
            self._changes.relay = None
        if self.send_presence in typed_drafts.on_saved:
            typed_drafts.on_saved.remove(self.send_presence)
        self._outgoing.put(None)
        self._stop.set()
        for thread in self._threads:
            if thread.name == SENDER:
                await asyncio.to_thread(thread.join, MAX_RETRY_SECONDS)
        self._threads.clear()

    def _send(self) -> None:
        connection: psycopg.Connection[tuple[object, ...]] | None = None
        retry = FIRST_RETRY_SECONDS
        waiting: list[str] = []
        while True:
            if not waiting:
                payload = self._outgoing.get()
                if payload is None:
                    break
                waiting.append(payload)
            while not self._outgoing.empty():  # what piled up meanwhile goes in the same round trip
                more = self._outgoing.get()
                if more is None:
                    self._stop.set()
                    break
                if more not in waiting:
                    waiting.append(more)
            try:
                if connection is None or connection.closed:
                    connection = psycopg.connect(self._dsn, autocommit=True)
                with connection.cursor() as cursor:
                    cursor.executemany("SELECT pg_notify(%s, %s)", [(CHANNEL, p) for p in waiting])
                waiting, retry = [], FIRST_RETRY_SECONDS
            except psycopg.Error as exc:
                log.warning("telling the other consoles failed (%s); trying again in %g s", exc, retry)
                if connection is not None:
                    connection.close()
                connection = None
                if self._stop.wait(retry):
                    break
                retry = min(MAX_RETRY_SECONDS, retry * 2)
            if self._stop.is_set() and not waiting and self._outgoing.empty():
                break
        if connection is not None:
            connection.close()

    def _listen(self) -> None:
        retry = FIRST_RETRY_SECONDS
        missed = False
        while not self._stop.is_set():
            try:
                with psycopg.connect(self._dsn, autocommit=True) as connection:
                    connection.execute(f"LISTEN {CHANNEL}")
                    self.listening.set()
                    retry = FIRST_RETRY_SECONDS
                    if missed:  # notifications sent while it was away are lost: read everything again
                        self._hand_over(frozenset(), everything=True)
                    while not self._stop.is_set():
                        for notify in connection.notifies(timeout=LISTEN_POLL_SECONDS):
                            self._received(notify.payload)
            except psycopg.Error as exc:
                self.listening.clear()
                missed = True
                if self._stop.is_set():
                    break
                log.warning("listening to the other consoles failed (%s); again in %g s", exc, retry)
                self._stop.wait(retry)
                retry = min(MAX_RETRY_SECONDS, retry * 2)
        self.listening.clear()

    def _received(self, payload: str) -> None:
        parsed = parse(payload)
        if parsed is None or parsed[0] == self.console_id:
            return
        what = parsed[1]
        if what == PRESENCE:
            typed_drafts.saved_elsewhere()
        elif what == SECRET:
            self._call(self._on_secret)
        elif isinstance(what, frozenset):
            self._hand_over(what)

    def _hand_over(self, task_ids: frozenset[int], *, everything: bool = False) -> None:
        self._call(lambda: self._changes.emit_remote(task_ids, everything=everything))

    def _call(self, callback: Callable[[], None]) -> None:
        loop = self._loop
        if loop is not None and not loop.is_closed():
            loop.call_soon_threadsafe(callback)
