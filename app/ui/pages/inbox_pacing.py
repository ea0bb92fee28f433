"""When an Inbox tab draws the rest of a page: new cards go ``DRAW_BATCH`` at a time, the next batch a moment later,
so drawing never holds the event loop (and the webhook) for long.

While a burst is under way (``app.changes.Changes.bursting``) the rounds on a page change at every flush, and an
Inbox that drew each page in full, a batch every ``NEXT_BATCH_SECONDS``, would build cards all the time on the
webhook's event loop (issue 10: "with 10 tabs open, the webhook answers as fast as with none"): the next batch then
waits one flush interval.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable

from nicegui import ui

from app.changes import changes

DRAW_BATCH = 15
"""New cards drawn in one go: the first ones are on screen at once; the rest of a page follows
``next_batch_seconds()`` later."""
NEXT_BATCH_SECONDS = 0.02


def next_batch_seconds() -> float:
    """Seconds before the rest of a page's new cards are drawn: ``NEXT_BATCH_SECONDS``, or while a burst is under
    way the time between flushes (``Changes.interval``)."""
    return changes.interval if changes.bursting else NEXT_BATCH_SECONDS


class NextBatch:
    """One tab's one-off timer for the rest of its page, built in ``host``: at most one pending. ``refresh`` is
    the page's refresh, called when it is due."""

    def __init__(self, host: ui.element, refresh: Callable[[], Awaitable[None]]) -> None:
        self.host = host
        self.refresh = refresh
        self.pending: tuple[float, ui.timer] | None = None  # the timer and when it is due (monotonic seconds)

    def ask(self, delay: float) -> None:
        """Refresh in ``delay`` seconds. One due sooner replaces a pending one, one due later leaves it: a timer per
        refresh would start a chain of refreshes with each flush of a burst, and a held tab would refresh more
        often the longer the burst lasted."""
        due = time.monotonic() + delay
        if self.pending is not None:
            if self.pending[0] <= due:
                return
            self.host.remove(self.pending[1])  # cancelled and gone now (a cancelled timer stays until its delay ends)
        with self.host:
            self.pending = (due, ui.timer(delay, self._due, once=True))

    async def _due(self) -> None:
        self.pending = None
        await self.refresh()
