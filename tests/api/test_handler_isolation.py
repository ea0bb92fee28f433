"""Regression: rules handlers run on the console's event loop, so one catastrophic regex freezes the whole console
(webhooks, the API, every page) for as long as it backtracks."""

from __future__ import annotations

import asyncio
import time

from tests.builders import Console


async def _max_stall_during(work) -> float:
    """Longest gap (s) between 10 ms ticks of a task sharing the event loop while ``work`` runs."""
    stalls: list[float] = []
    done = asyncio.Event()

    async def ticker() -> None:
        last = time.monotonic()
        while not done.is_set():
            await asyncio.sleep(0.01)
            now = time.monotonic()
            stalls.append(now - last)
            last = now

    tick = asyncio.create_task(ticker())
    await asyncio.sleep(0.05)
    try:
        await work
    finally:
        done.set()
        await tick
    return max(stalls)


async def test_handler_test_catastrophic_regex_keeps_console_serving(console: Console):
    spec = {
        "rules": [{"when": [{"kind": "regex", "path": "s", "value": "(a+)+$"}], "response": {"output": "hit"}}],
        "default": {"output": "miss"},
    }
    request = console.post("/api/handlers/test", json={"kind": "rules", "spec": spec, "args": {"s": "a" * 24 + "b"}})
    stall = await _max_stall_during(request)
    assert stall < 0.3, f"the event loop was blocked for {stall:.2f} s"
