"""Per-tab live refresh: the root layout forwards change notifications to the sub page on screen."""

from __future__ import annotations

import inspect
from collections.abc import Awaitable, Callable

from nicegui import ui

Listener = Callable[[int], Awaitable[None] | None]
KeyHandler = Callable[[str], Awaitable[None] | None]

PER_RUN = 3
"""Changed runs in one flush up to which a page hears of each; above, it hears 0 once."""


class Live:
    """Per tab: the sub page's refresh callback, called with the changed ``task_id`` (0: agents, handlers or an
    unknown run), and its keyboard handler. Changes come already coalesced for the whole process (``app.changes``,
    one set of task ids a flush); a flush that arrives while the page still refreshes is merged into one more
    refresh after it, so a slow page never piles up work."""

    def __init__(self, *, offline: bool = False) -> None:
        """``offline``: the tab has no connection yet (``set_offline``)."""
        self.listener: Listener | None = None
        self.keys: KeyHandler | None = None
        self.pending_key: str | None = None
        self._browser_hidden = False
        self._offline = offline
        self._busy = False
        self._again: set[int] = set()
        self._missed: set[int] = set()

    @property
    def hidden(self) -> bool:
        """The tab is not on screen: the browser says so (another tab in front or a minimised window: the Page
        Visibility API, ``set_hidden``), or the tab has no connection (closed, moved to another site, asleep, a
        network drop: ``set_offline``), or has had none yet. NiceGUI keeps a page without connection
        ``reconnect_timeout`` seconds (60 by default) in case it comes back, and a page whose socket never
        connected (fetched by a script or a link preview, a tab closed while it loaded, a proxy that drops
        websockets) about a minute; until then it would refresh for nobody."""
        return self._browser_hidden or self._offline

    def hold(self, task_ids: frozenset[int]) -> bool:
        """Keep a flush's ``task_ids`` for later when the tab is hidden (True), so a tab nobody looks at costs the
        process no reads and its browser no redraws however many runs change; False when it is on screen."""
        if self.hidden:
            self._missed |= task_ids
        return self.hidden

    def set_hidden(self, hidden: bool) -> frozenset[int]:
        """The browser hid or showed the tab; once it is on screen, the task ids of the flushes held meanwhile (to
        refresh with once, as one flush), else none."""
        self._browser_hidden = hidden
        return self._caught_up()

    def set_offline(self, offline: bool) -> frozenset[int]:
        """The tab lost its connection or got it back; as ``set_hidden``."""
        self._offline = offline
        return self._caught_up()

    def _caught_up(self) -> frozenset[int]:
        if self.hidden:
            return frozenset()
        missed, self._missed = frozenset(self._missed), set()
        return missed

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

    async def notify(self, task_ids: frozenset[int]) -> None:
        """One flush of changes: the listener is called once per changed task_id when there are at most
        ``PER_RUN``, else once with 0 (many runs changed: the page reads what it shows again)."""
        if self._busy:
            self._again |= task_ids
            return
        self._busy = True
        try:
            pending = set(task_ids)
            while pending:
                for changed in sorted(pending) if len(pending) <= PER_RUN else [0]:
                    await self._call(changed)
                pending, self._again = self._again, set()
        finally:
            self._busy = False

    async def _call(self, task_id: int) -> None:
        if self.listener is not None:
            result = self.listener(task_id)
            if inspect.isawaitable(result):
                await result
