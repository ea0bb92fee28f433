"""Bounded thread pools, one per kind of blocking work, so that no kind can starve another.

- **ingest**: the webhook's writer has a thread of its own (``app.webhooks``), never shared;
- **UI**: pages and API routes call ``asyncio.to_thread``, which runs on the event loop's default executor;
  ``install_ui_pool`` makes that a pool of ``UI_WORKERS`` threads named ``tooldesk-ui``;
- **handlers**: the responder, the outbox and the fallbacks run their database work on ``in_handlers``
  (``TOOLDESK_HANDLER_THREADS`` threads named ``tooldesk-handlers``); snippets and rules run in worker processes of their own
  (``app.handlers.sandbox``, ``app.handlers.rules_pool``).

SQLite has one writer at a time (``app.db.write_connection``): pools bound how many threads wait, not the lock.
"""

from __future__ import annotations

import asyncio
import contextvars
import functools
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import ParamSpec, TypeVar

from app.config import get_settings

UI_WORKERS = 4
"""Threads for pages' and API routes' database work (the default executor)."""

P = ParamSpec("P")
T = TypeVar("T")

_handlers: ThreadPoolExecutor | None = None
_handlers_lock = threading.Lock()


def install_ui_pool(loop: asyncio.AbstractEventLoop | None = None) -> None:
    """Make ``loop``'s (default: the running loop's) default executor a pool of ``UI_WORKERS`` threads."""
    (loop or asyncio.get_running_loop()).set_default_executor(
        ThreadPoolExecutor(max_workers=UI_WORKERS, thread_name_prefix="tooldesk-ui")
    )


async def in_handlers(fn: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
    """``fn(*args, **kwargs)`` on the handlers' pool (context variables carried over, as ``asyncio.to_thread``
    does); raises what ``fn`` raises."""
    call = functools.partial(contextvars.copy_context().run, fn, *args, **kwargs)
    return await asyncio.get_running_loop().run_in_executor(handler_pool(), call)


def handler_pool() -> ThreadPoolExecutor:
    """The process's one handlers' pool: ``TOOLDESK_HANDLER_THREADS`` threads, made on first use."""
    global _handlers
    with _handlers_lock:
        if _handlers is None:
            size = get_settings().handler_threads
            _handlers = ThreadPoolExecutor(max_workers=size, thread_name_prefix="tooldesk-handlers")
        return _handlers
