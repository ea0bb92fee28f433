"""Reads shared by every open tab: one read per flush of changes for the whole process, not one per tab.

``pending_count``: the inbox badge's number (one ``COUNT``, ``rounds.count_pending_rounds``); ``pending_rounds``:
every pending round for the Inbox (``app.services.pending_rounds``, re-read run by run). A tab asks with
``await x.get()``: it gets a value read after the last flush it knew of (``app.changes.generation``); tabs that ask
while a read is on its way wait for that same read. So 10 tabs after one flush cost one query, not 10.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Generic, TypeVar

from sqlalchemy import Engine

from app.changes import changes
from app.runtime import get_runtime
from app.services import rounds
from app.services.pending_rounds import PendingRounds, read_pending

T = TypeVar("T")

Reader = Callable[[Engine, T | None, frozenset[int] | None], T]
"""``(engine, previous value or None, task ids changed since it or None) -> value``; runs on the UI pool."""


class PerFlush(Generic[T]):
    """A value read at most once per flush of changes, for every tab; re-read when the database is another one."""

    def __init__(self, reader: Reader[T]) -> None:
        self._reader = reader
        self._value: T | None = None
        self._generation = -1
        self._engine: Engine | None = None
        self._reading: asyncio.Future[None] | None = None

    async def get(self) -> T:
        """The value as of the latest flush at the time of the call, or later; raises what the read raises."""
        engine = get_runtime().engine
        wanted = changes.generation
        loop = asyncio.get_running_loop()
        while True:
            if self._value is not None and self._engine is engine and self._generation >= wanted:
                return self._value
            reading = self._reading
            if reading is None or reading.done() or reading.get_loop() is not loop:
                reading = self._reading = asyncio.ensure_future(self._read(engine))
            await asyncio.shield(reading)

    async def _read(self, engine: Engine) -> None:
        generation = changes.generation  # before reading: a change flushed during the read is read again next time
        previous = self._value if self._engine is engine else None
        since = changes.since(self._generation) if previous is not None else None
        value = await asyncio.to_thread(self._reader, engine, previous, since)
        self._value, self._generation, self._engine = value, generation, engine


pending_count: PerFlush[int] = PerFlush(lambda engine, _previous, _since: rounds.count_pending_rounds(engine=engine))
"""How many rounds wait for an answer: the inbox badge of every tab."""

pending_rounds: PerFlush[PendingRounds] = PerFlush(
    lambda engine, previous, since: read_pending(engine=engine, previous=previous, changed=since)
)
"""Every pending round, for every Inbox tab."""
