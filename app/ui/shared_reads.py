"""Reads shared by every open tab: one read per flush of changes for the whole process, not one per tab.

``pending_count``: the inbox badge's number (one ``COUNT``, ``rounds.count_pending_rounds``); ``pending_rounds``:
every pending round for the Inbox (``app.services.pending_rounds``, re-read run by run); ``overview_data``: the
Overview's figures; ``run_pages``: a page of the Runs table and its count, by view. A tab asks with
``await x.get()``: it gets a value read after the last flush it knew of (``app.changes.generation``); tabs that ask
while a read is on its way wait for that same read. So 10 tabs after one flush cost one query, not 10.

Values that depend on the clock as well (the last hour's deliveries, a view of runs created in the last day) are
also read again once older than ``FRESH_SECONDS``, so a tab opened after a quiet spell never shows an old figure.
"""

from __future__ import annotations

import asyncio
import time
from collections import OrderedDict
from collections.abc import Callable, Hashable
from typing import Generic, TypeVar

from sqlalchemy import Engine

from app.changes import changes
from app.errors import SearchTooSlow
from app.models import RunPublic
from app.runtime import get_runtime
from app.services import overview, rounds, runs
from app.services.pending_rounds import PendingRounds, read_pending

T = TypeVar("T")

FRESH_SECONDS = 1.0
"""How long a clock-dependent value (``fresh_for``) is served without a change; seconds."""
KEPT_VIEWS = 32
"""Views of ``PerFlushBy`` kept at once; the least recently asked for is dropped first."""

Reader = Callable[[Engine, T | None, frozenset[int] | None], T]
"""``(engine, previous value or None, task ids changed since it or None) -> value``; runs on the UI pool."""


class PerFlush(Generic[T]):
    """A value read at most once per flush of changes, for every tab; re-read when the database is another one."""

    def __init__(self, reader: Reader[T], *, fresh_for: float | None = None) -> None:
        """``fresh_for``: seconds after which the value is read again even without a change (``None``: never)."""
        self._reader = reader
        self._fresh_for = fresh_for
        self._value: T | None = None
        self._generation = -1
        self._read_at = 0.0
        self._engine: Engine | None = None
        self._reading: asyncio.Future[None] | None = None

    async def get(self) -> T:
        """The value as of the latest flush at the time of the call, or later; raises what the read raises."""
        engine = get_runtime().engine
        wanted = changes.generation
        asked = time.monotonic()
        loop = asyncio.get_running_loop()
        while True:
            if (
                self._value is not None
                and self._engine is engine
                and self._generation >= wanted
                and (self._fresh_for is None or asked - self._read_at <= self._fresh_for)
            ):
                return self._value
            reading = self._reading
            if reading is None or reading.done() or reading.get_loop() is not loop:
                reading = self._reading = asyncio.ensure_future(self._read(engine))
            await asyncio.shield(reading)

    async def _read(self, engine: Engine) -> None:
        generation = changes.generation  # before reading: a change flushed during the read is read again next time
        started = time.monotonic()
        previous = self._value if self._engine is engine else None
        since = changes.since(self._generation) if previous is not None else None
        value = await asyncio.to_thread(self._reader, engine, previous, since)
        self._value, self._generation, self._engine, self._read_at = value, generation, engine, started


class PerFlushBy(Generic[T]):
    """``PerFlush`` for each view of a value (a page of runs for each set of filters): tabs on the same view share
    its read. Keeps the ``KEPT_VIEWS`` views last asked for."""

    def __init__(self, *, fresh_for: float | None = None) -> None:
        self._fresh_for = fresh_for
        self._views: OrderedDict[Hashable, PerFlush[T]] = OrderedDict()

    async def get(self, key: Hashable, read: Callable[[Engine], T]) -> T:
        """The value of view ``key`` as ``PerFlush.get`` gives it; ``read(engine)`` reads it when needed (on the
        UI pool). Tabs asking for one key must pass readers that read the same thing."""
        shared = self._views.get(key)
        if shared is None:
            shared = PerFlush(lambda engine, _previous, _since: read(engine), fresh_for=self._fresh_for)
            self._views[key] = shared
            while len(self._views) > KEPT_VIEWS:
                self._views.popitem(last=False)
        self._views.move_to_end(key)
        return await shared.get()


pending_count: PerFlush[int] = PerFlush(lambda engine, _previous, _since: rounds.count_pending_rounds(engine=engine))
"""How many rounds wait for an answer: the inbox badge of every tab."""

pending_rounds: PerFlush[PendingRounds] = PerFlush(
    lambda engine, previous, since: read_pending(engine=engine, previous=previous, changed=since)
)
"""Every pending round, for every Inbox tab."""

overview_data: PerFlush[overview.Overview] = PerFlush(
    lambda engine, _previous, _since: overview.overview(engine=engine), fresh_for=FRESH_SECONDS
)
"""The Overview's figures and charts, for every Overview tab."""

RunPage = tuple[list[RunPublic], int | SearchTooSlow]
"""A page of runs and how many match its filters, or the ``SearchTooSlow`` its count raised (the page still shows:
over 100,000 runs a search's count can take longer than its page)."""

run_pages: PerFlushBy[RunPage] = PerFlushBy(fresh_for=FRESH_SECONDS)
"""``RunPage`` by view (``RunFilter`` as JSON)."""


def read_run_page(*, engine: Engine, where: runs.RunFilter) -> RunPage:
    """``runs.list_runs`` then ``runs.count_runs``; a count past its deadline is handed back in place of the total.
    Raises ``SearchTooSlow`` when the page itself is."""
    items = runs.list_runs(engine=engine, where=where)
    try:
        return items, runs.count_runs(engine=engine, where=where)
    except SearchTooSlow as exc:
        return items, exc


async def run_page(where: runs.RunFilter) -> RunPage:
    """The page of runs ``where`` asks for and how many match it (``RunPage``), shared by the tabs on that view;
    raises ``SearchTooSlow`` when the page is too slow."""
    return await run_pages.get(where.model_dump_json(), lambda engine: read_run_page(engine=engine, where=where))
