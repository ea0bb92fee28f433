"""Change notifications to open pages, coalesced for the whole process. NiceGUI underneath, so it lives outside
``services/``.

``changes.emit(task_id)`` after a commit that changed a run, a round or the
agent list (``task_id`` 0 for the agent list and handlers). Only ``Runtime``
emits (its after-change methods, and the ``on_change`` callable it hands the
outbox and the responder); services never import this module.

Emitted task ids are collected and flushed at most every ``FLUSH_SECONDS``: the first change after a quiet spell
goes out on the event loop's next turn, those that follow ride along in the next flush. After a flush that
carried more than ``BUSY_RUNS`` runs (a burst), the next one waits ``busy_interval`` instead: a second, longer
with many tabs open. A flush hands one set of
task ids to every subscriber, so a burst of 500 deliveries a second with 10 tabs open costs about 10 flushes a
second (100 callbacks), not 5,000 (issue 10, "Pools"). Each flush is a new ``generation``; ``since(generation)``
says which runs changed after it, so a process-wide cache re-reads only those (``app.ui.shared_reads``).

The root layout of each browser tab subscribes once and refreshes what it shows (NiceGUI's ``Event``: callbacks
run in the subscriber's own client context and end with that client).

Several consoles on one PostgreSQL database (``app.change_relay``): ``relay`` is handed the task ids this process
emitted, once a flush, to tell the others; what the others changed comes in through ``emit_remote`` and is
flushed like a local change, without being relayed again.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Callable
from typing import Any

from nicegui import Event

FLUSH_SECONDS = 0.1
"""Least time between two flushes; also the most a change waits while changes come one at a time."""
BUSY_RUNS = 10
"""A flush that carries more runs than this means a burst: the next flush waits ``BUSY_FLUSH_SECONDS``."""
BUSY_FLUSH_SECONDS = 1.0
"""Time between flushes during a burst (hundreds of deliveries a second): every open page refreshes once a
second instead of ten times, so tabs take a bounded share of the process from the webhook (issue 10: "with 10
tabs open, the webhook answers as fast as with none"). A single new round still shows within ``FLUSH_SECONDS``."""
BUSY_SECONDS_PER_TAB = 0.2
"""During a burst, each open tab adds this much to the time between flushes, from ``BUSY_FLUSH_SECONDS`` up to
``BUSY_FLUSH_MOST`` (10 tabs: 2 s). What a flush costs grows with the tabs that refresh on it (an Inbox under a
burst draws new cards at every flush), so the interval grows with them to keep the pages' share of the process, not
each page's, bounded; see ``busy_interval``."""
BUSY_FLUSH_MOST = 5.0
"""The longest a page waits for a change during a burst, however many tabs are open."""
LOG_FLUSHES = 512
"""Flushes remembered for ``since`` (at least ``LOG_FLUSHES * FLUSH_SECONDS`` ≈ 51 s of a burst)."""


class Changes:
    """Collects ``emit(task_id)`` calls and hands subscribers ``frozenset[int]`` of task ids, one set a flush."""

    def __init__(self) -> None:
        self.flushed: Event[frozenset[int]] = Event()
        self.generation = 0
        self._pending: set[int] = set()
        self._local: set[int] = set()
        self._horizon = 0
        self.relay: Callable[[frozenset[int]], None] | None = None
        """Called on the event loop with each flush's task ids emitted in this process (not ``emit_remote``)."""
        self._log: deque[tuple[int, frozenset[int]]] = deque(maxlen=LOG_FLUSHES)
        self._loop: asyncio.AbstractEventLoop | None = None
        self._handle: asyncio.TimerHandle | None = None
        self._last_flush = float("-inf")
        self._interval = FLUSH_SECONDS

    @property
    def interval(self) -> float:
        """Seconds from one flush to the next now: ``FLUSH_SECONDS``, or ``busy_interval`` during a burst."""
        return self._interval

    @property
    def bursting(self) -> bool:
        """Whether a burst is under way: the last flush carried more than ``BUSY_RUNS`` runs, and changes wait for
        the next flush or its busy interval has not passed yet (more of the burst may come). False again once a
        flush carries fewer runs, or the interval passes with no change."""
        if self._interval <= FLUSH_SECONDS:
            return False
        if self._pending:
            return True
        return self._loop is not None and self._loop.time() < self._last_flush + self._interval

    @property
    def waiting(self) -> bool:
        """Whether changes wait for a flush (emitted, not yet handed to subscribers)."""
        return bool(self._pending) or self._handle is not None

    @property
    def callbacks(self) -> list[Any]:
        """The subscribers (NiceGUI ``Callback`` objects); tests clear them between tests."""
        return self.flushed.callbacks

    def subscribe(self, callback: Callable[[frozenset[int]], Any]) -> None:
        """Call ``callback(task_ids)`` on every flush; inside a page, in its client's context, until it is gone."""
        self.flushed.subscribe(callback, expect_args=True)

    def emit(self, task_id: int) -> None:
        """Note that run ``task_id`` changed (0: agents, handlers, or a run not known); any thread."""
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:  # not on the event loop's thread: hand it over
            if self._loop is not None and not self._loop.is_closed():
                self._loop.call_soon_threadsafe(self.emit, task_id)
            return
        self._pending.add(task_id)
        if self.relay is not None:
            self._local.add(task_id)
        self._schedule(loop)

    def emit_remote(self, task_ids: frozenset[int], *, everything: bool = False) -> None:
        """Runs ``task_ids`` changed in another console (on the event loop's thread); ``everything``: changes may
        have been missed (the listener reconnected), so ``since`` answers ``None`` for every earlier generation and
        process-wide caches read everything again."""
        loop = asyncio.get_running_loop()
        if everything:
            self._horizon = self.generation + 1
            task_ids = task_ids | {0}
        self._pending |= task_ids
        self._schedule(loop)

    def _schedule(self, loop: asyncio.AbstractEventLoop) -> None:
        if loop is not self._loop:  # the first emit, or a new loop (tests start one each)
            self._loop, self._handle = loop, None
        if self._handle is None:
            delay = max(0.0, self._last_flush + self._interval - loop.time())
            self._handle = loop.call_later(delay, self._flush)

    def since(self, generation: int) -> frozenset[int] | None:
        """The task ids of every flush after ``generation``; ``None`` when that is further back than the log."""
        if generation == self.generation:
            return frozenset()
        if (
            generation > self.generation
            or generation < self._horizon
            or not self._log
            or self._log[0][0] > generation + 1
        ):
            return None
        changed: set[int] = set()
        for flushed, task_ids in reversed(self._log):
            if flushed <= generation:
                break
            changed |= task_ids
        return frozenset(changed)

    def _flush(self) -> None:
        self._handle = None
        if not self._pending:
            return
        task_ids, self._pending = frozenset(self._pending), set()
        local, self._local = frozenset(self._local), set()
        busy = len(task_ids) > BUSY_RUNS
        self._interval = busy_interval(len(self.flushed.callbacks)) if busy else FLUSH_SECONDS
        self.generation += 1
        self._log.append((self.generation, task_ids))
        if self._loop is not None:
            self._last_flush = self._loop.time()
        self.flushed.emit(task_ids)
        if local and self.relay is not None:
            self.relay(local)


def busy_interval(subscribers: int) -> float:
    """Seconds between flushes during a burst with ``subscribers`` open tabs: ``BUSY_SECONDS_PER_TAB`` a tab, at
    least ``BUSY_FLUSH_SECONDS`` and at most ``BUSY_FLUSH_MOST``."""
    return min(BUSY_FLUSH_MOST, max(BUSY_FLUSH_SECONDS, BUSY_SECONDS_PER_TAB * subscribers))


changes = Changes()
