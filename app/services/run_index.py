"""The runs search's indexing step in the background (``SearchIndexer``): the marks the triggers leave
(``run_search``) become index entries shortly after each change, off the webhook's writer thread.

When it runs: at start (marks left by a stop), when kicked (``Runtime``'s after-change methods kick it after
each writer batch, submission, start, replay and reconciliation), and every ``POLL`` seconds, which catches a
change made without a kick. Once woken it waits ``GATHER`` seconds, so a burst of batches is indexed by one
transaction rather than one each (every transaction of its own costs an fsync under the write lock), then runs
``run_search.index_marked`` on the handlers' pool (``app.pools.in_handlers``) until no marks are left. Each
step holds the write lock for at most ``run_search.STEP_RUNS`` runs; the event loop is yielded between steps.
Until then the search reads marked runs directly, so nothing waits on this loop to be correct.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable

from sqlalchemy import Engine
from sqlalchemy.exc import SQLAlchemyError

from app.pools import in_handlers
from app.services import run_search

log = logging.getLogger(__name__)

POLL = 0.5
"""Seconds between looks for marks when nothing kicks the loop."""
GATHER = 0.05
"""Seconds waited after a wake-up before indexing, so the changes of a burst share one transaction."""
BUSY_DEFER = 2.0
"""Seconds indexing waits at most, beyond ``GATHER``, while deliveries wait for the webhook's writer (``busy``):
the index shares the CPU and SQLite's write lock with the writer, and under a sustained load it then indexes a
couple of seconds' changes in one go rather than a few runs at a time (issue 10: handlers' and background work
must never starve the webhook)."""
BUSY_STEP = 0.1


class SearchIndexer:
    """Indexes marked runs in the background: ``start`` and ``aclose`` from the event loop, ``kick`` after a
    change."""

    def __init__(self, *, engine: Engine, busy: Callable[[], bool] = lambda: False) -> None:
        self.engine = engine
        self.busy = busy
        """Whether deliveries wait for the webhook's writer now (``Runtime`` sets it); see ``BUSY_DEFER``."""
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stopping = False

    def start(self) -> None:
        """Start the loop (a first step at once, for marks left by a stop)."""
        if self._task is None:
            self._stopping = False
            self._wake.set()
            self._loop = asyncio.get_running_loop()
            self._task = self._loop.create_task(self._run(), name="runs search index")

    def kick(self) -> None:
        """Index soon: something may have marked runs. Safe from any thread; nothing happens before ``start``."""
        loop = self._loop
        if loop is None or loop.is_closed():
            return
        try:
            here = asyncio.get_running_loop()
        except RuntimeError:
            here = None
        if here is loop:
            self._wake.set()
        else:
            loop.call_soon_threadsafe(self._wake.set)

    async def aclose(self) -> None:
        """Stop the loop; a step under way finishes first (marks it did not reach wait for the next start)."""
        if self._task is not None:
            self._stopping = True  # ends the loop at its next turn even if a cancellation is swallowed
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def _run(self) -> None:
        while not self._stopping:
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(POLL):  # not ``wait_for``: on 3.11 it can swallow a cancellation
                    await self._wake.wait()
            await asyncio.sleep(GATHER)
            deferred = 0.0
            while deferred < BUSY_DEFER and not self._stopping and self.busy():
                await asyncio.sleep(BUSY_STEP)
                deferred += BUSY_STEP
            self._wake.clear()
            try:
                full = True
                while full:  # each step is awaited on the pool, so the loop runs between steps
                    full = await in_handlers(run_search.index_marked, self.engine) >= run_search.STEP_RUNS
            except SQLAlchemyError as exc:
                log.warning("could not index changed runs for search: %s", exc)
