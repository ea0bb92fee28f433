"""Per-tab live refresh: the root layout forwards change notifications to the sub page on screen."""

from __future__ import annotations

import inspect
from collections.abc import Awaitable, Callable

Listener = Callable[[int], Awaitable[None] | None]
KeyHandler = Callable[[str], Awaitable[None] | None]


class Live:
    """Per tab: the sub page's refresh callback, called with the changed ``task_id`` (0: agents)."""

    def __init__(self) -> None:
        self.listener: Listener | None = None
        self.keys: KeyHandler | None = None

    def listen(self, listener: Listener, *, keys: KeyHandler | None = None) -> None:
        """Replace the listener (only the sub page on screen is refreshed) and its keyboard handler, which gets
        ``"next"``, ``"previous"``, ``"open"``, ``"submit"`` or ``"search"``."""
        self.listener = listener
        self.keys = keys

    async def key(self, action: str) -> None:
        if self.keys is not None:
            result = self.keys(action)
            if inspect.isawaitable(result):
                await result

    async def notify(self, task_id: int) -> None:
        if self.listener is not None:
            result = self.listener(task_id)
            if inspect.isawaitable(result):
                await result
