"""The threads handler work blocks in, apart from the default executor the webhook stores deliveries with.

The webhook route and ingestion run their blocking work through ``asyncio.to_thread``: the event loop's
default executor (``min(32, cpus + 4)`` threads, six on two cores). Handler work (the responder's database
reads and writes, reaping sandbox workers) goes through ``in_handler_thread`` instead, onto a pool of
``TOOLDESK_HANDLER_THREADS`` threads of its own, so however many handlers are busy, a delivery never waits
for a free thread. Templates and regexes do not run in these threads at all: they run in worker processes
(``app.handlers.rules_pool``), which can be stopped; a Python thread cannot.
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

_P = ParamSpec("_P")
_T = TypeVar("_T")
_lock = threading.Lock()
_executor: ThreadPoolExecutor | None = None


async def in_handler_thread(fn: Callable[_P, _T], /, *args: _P.args, **kwargs: _P.kwargs) -> _T:
    """``fn(*args, **kwargs)`` in a handler thread (context variables carried over, as ``asyncio.to_thread``
    does); its result, or the exception it raised."""
    call = functools.partial(contextvars.copy_context().run, fn, *args, **kwargs)
    return await asyncio.get_running_loop().run_in_executor(handler_executor(), call)


def handler_executor() -> ThreadPoolExecutor:
    """The process's one handler thread pool: ``TOOLDESK_HANDLER_THREADS`` threads, made on first use."""
    global _executor
    with _lock:
        if _executor is None:
            size = get_settings().handler_threads
            _executor = ThreadPoolExecutor(max_workers=size, thread_name_prefix="tooldesk-handler")
        return _executor
