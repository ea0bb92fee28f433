"""Bounded thread pools, one per kind of blocking work, so that no kind can starve another.

- **ingest**: the webhook's writer has a thread of its own (``app.webhooks``), never shared;
- **UI**: pages and API routes call ``asyncio.to_thread``, which runs on the event loop's default executor;
  ``install_ui_pool`` makes that a pool of ``UI_WORKERS`` threads named ``tooldesk-ui``;
- **handlers**: the responder and the outbox run their database work on ``in_handlers`` (``HANDLER_WORKERS``
  threads named ``tooldesk-handlers``); snippets and rules run in worker processes of their own
  (``app.handlers.sandbox``, ``app.handlers.rules_pool``).

SQLite has one writer at a time (``app.db.write_connection``): pools bound how many threads wait, not the lock.
"""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import ParamSpec, TypeVar

UI_WORKERS = 4
"""Threads for pages' and API routes' database work (the default executor)."""
HANDLER_WORKERS = 2
"""Threads for the responder's and the outbox's database work."""

P = ParamSpec("P")
T = TypeVar("T")

_handlers = ThreadPoolExecutor(max_workers=HANDLER_WORKERS, thread_name_prefix="tooldesk-handlers")


def install_ui_pool(loop: asyncio.AbstractEventLoop | None = None) -> None:
    """Make ``loop``'s (default: the running loop's) default executor a pool of ``UI_WORKERS`` threads."""
    (loop or asyncio.get_running_loop()).set_default_executor(
        ThreadPoolExecutor(max_workers=UI_WORKERS, thread_name_prefix="tooldesk-ui")
    )


async def in_handlers(fn: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
    """``fn(*args, **kwargs)`` on the handlers' pool; raises what ``fn`` raises."""
    loop = asyncio.get_running_loop()
    return await loop.run_in_executor(_handlers, functools.partial(fn, *args, **kwargs))
