"""A warm pool of worker processes, shared by the Python sandbox and the rules workers.

``WorkerPool`` keeps ``count`` ready ``WorkerProcess``es. A caller borrows one with ``acquire`` (waiting while
all are busy) and gives it back with ``release``: kept for the next call, or stopped and replaced by a fresh one
started in the background (retried every few seconds until one starts or the pool closes).

A ``single_use`` pool (the Python sandbox: each worker answers one call and is then replaced) starts the
replacement as soon as a worker is borrowed, not when it is given back: a worker takes about 0.4 s to start, and
starting it while the call runs (and while the used one is being stopped) has it warm that much sooner for the
next call. A borrowed worker never goes back to the idle queue.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any

from app.handlers._worker_process import WorkerDied, WorkerProcess

log = logging.getLogger("tooldesk")
RESPAWN_DELAYS = (0.5, 1.0, 2.0, 5.0, 10.0)
"""Seconds between attempts when a replacement worker fails to start."""


class WorkerPool:
    """Workers made by ``spawn``; ``name`` ("sandbox", "rules pool") goes into messages and log lines."""

    def __init__(self, *, name: str, spawn: Callable[[], Awaitable[WorkerProcess]], single_use: bool = False) -> None:
        self.name = name
        self.single_use = single_use
        self._make = spawn
        self._idle: asyncio.Queue[WorkerProcess | None] = asyncio.Queue()
        self._live: set[WorkerProcess] = set()
        self._dying: set[WorkerProcess] = set()  # replaced, not yet reaped
        self._respawns: set[asyncio.Task[None]] = set()
        self.closed = False

    async def start(self, count: int) -> None:
        """Start ``count`` workers and wait until every one is ready. Raises what ``spawn`` raises (WorkerDied,
        OSError), after stopping the ones that did start."""
        try:
            started = await asyncio.gather(*(self._spawn() for _ in range(count)))
        except BaseException:
            await self.aclose()
            raise
        for worker in started:
            self._idle.put_nowait(worker)

    async def aclose(self) -> None:
        """Stop every worker (a call in flight sees its worker exit); safe to call twice."""
        if self.closed:
            return
        self.closed = True
        for task in self._respawns:
            task.cancel()
        await asyncio.gather(*self._respawns, return_exceptions=True)
        doomed, self._live, self._dying = self._live | self._dying, set(), set()
        await asyncio.gather(*(worker.stop() for worker in doomed))
        self._idle.put_nowait(None)  # wakes callers waiting for a worker; they raise

    @property
    def idle_workers(self) -> int:
        """Workers waiting for a call now."""
        return 0 if self.closed else self._idle.qsize()

    async def acquire(self) -> WorkerProcess:
        """A live idle worker, waiting for one while all are busy; raises RuntimeError once the pool is closed."""
        while True:
            if self.closed:
                raise RuntimeError(f"the {self.name} is not running (closed)")
            worker = await self._idle.get()
            if worker is None:
                self._idle.put_nowait(None)
                continue
            if not worker.alive:
                self.replace(worker)  # died while idle
                continue
            if self.single_use and worker in self._live:
                # never idle again: stopped on release (or aclose); its replacement starts now
                self._live.discard(worker)
                self._dying.add(worker)
                self._background(self._refill())
            return worker

    def release(self, worker: WorkerProcess, *, keep: bool) -> None:
        """Give ``worker`` back: ready for the next call when ``keep``, else stopped and replaced."""
        if self.single_use and worker in self._dying:
            worker.kill()
            self._background(self._bury(worker))
        elif keep and not self.closed:
            self._idle.put_nowait(worker)
        else:
            self.replace(worker)

    def replace(self, worker: WorkerProcess) -> None:
        """Kill ``worker`` and, unless closing, start a fresh one in the background."""
        worker.kill()
        if worker not in self._live:
            return
        self._live.discard(worker)
        self._dying.add(worker)
        self._background(self._respawn(worker))

    def _background(self, work: Coroutine[Any, Any, None]) -> None:
        task = asyncio.get_running_loop().create_task(work)
        self._respawns.add(task)
        task.add_done_callback(self._respawns.discard)

    async def _respawn(self, old: WorkerProcess) -> None:
        await self._bury(old)
        await self._refill()

    async def _bury(self, old: WorkerProcess) -> None:
        await old.stop()
        self._dying.discard(old)

    async def _refill(self) -> None:
        """Start one worker for the idle queue, trying again (``RESPAWN_DELAYS``) until one starts or the pool
        closes."""
        for attempt in itertools.count():
            if self.closed:
                return
            try:
                worker = await self._spawn()
            except Exception as exc:
                if self.closed:
                    return
                delay = RESPAWN_DELAYS[min(attempt, len(RESPAWN_DELAYS) - 1)]
                log.warning("%s worker failed to start (%s): trying again in %g s", self.name, exc, delay)
                await asyncio.sleep(delay)
                continue
            self._idle.put_nowait(worker)
            return

    async def _spawn(self) -> WorkerProcess:
        worker = await self._make()
        if self.closed:
            await worker.stop()
            raise WorkerDied(f"the {self.name} closed while the worker started")
        self._live.add(worker)
        return worker
