"""Per-tab live refresh: the root layout forwards change notifications to the sub page on screen."""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import Awaitable, Callable

from nicegui import ui

Listener = Callable[[int], Awaitable[None] | None]
KeyHandler = Callable[[str], Awaitable[None] | None]


class Live:
    """Per tab: the sub page's refresh callback, called with the changed ``task_id`` (0: agents, handlers or an
    unknown run), and its keyboard handler. A burst of changes is coalesced: the page refreshes at once, then at
    most every ``COALESCE_SECONDS`` while changes keep coming, always once more after the last one."""

    COALESCE_SECONDS = 0.1

    def __init__(self) -> None:
        self.listener: Listener | None = None
        self.keys: KeyHandler | None = None
        self.pending_key: str | None = None
        self._busy = False
        self._again: set[int] = set()

    def reset(self) -> None:
        """A new sub page is on screen: forget the previous page's callbacks."""
        self.listener = None
        self.keys = None
        self._again.clear()

    def listen(self, listener: Listener, *, keys: KeyHandler | None = None) -> None:
        """Set the page's listener and keyboard handler (``"next"``, ``"previous"``, ``"open"``, ``"submit"``,
        ``"search"``); a key pressed on the previous page for this one (``/`` elsewhere) is delivered now."""
        self.listener = listener
        self.keys = keys
        if keys is not None and self.pending_key is not None:
            action, self.pending_key = self.pending_key, None
            ui.timer(0.1, lambda: self.key(action), once=True)  # after the page's first load

    async def key(self, action: str) -> None:
        if self.keys is not None:
            result = self.keys(action)
            if inspect.isawaitable(result):
                await result

    async def notify(self, task_id: int) -> None:
        if self._busy:
            self._again.add(task_id)
            return
        self._busy = True
        try:
            await self._call(task_id)
            while self._again:
                await asyncio.sleep(self.COALESCE_SECONDS)
                pending, self._again = self._again, set()
                for changed in sorted(pending) if len(pending) <= 3 else [0]:
                    await self._call(changed)
        finally:
            self._busy = False

    async def _call(self, task_id: int) -> None:
        if self.listener is not None:
            result = self.listener(task_id)
            if inspect.isawaitable(result):
                await result
