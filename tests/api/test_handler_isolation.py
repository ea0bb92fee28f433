"""Regression: rules handlers run on the console's event loop, so one catastrophic regex freezes the whole console
(webhooks, the API, every page) for as long as it backtracks."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable
from typing import Any

from tests.builders import Console


async def _served_while(work: Awaitable[Any], console: Console) -> list[str]:
    """The order in which ``work`` and a liveness probe sent after it start are answered: a console whose event loop
    ``work`` blocks answers the probe only after it."""
    order: list[str] = []

    async def run(name: str, awaitable: Awaitable[Any]) -> None:
        await awaitable
        order.append(name)

    task = asyncio.create_task(run("work", work))
    await asyncio.sleep(0.05)  # the work's request is in the console
    await asyncio.gather(task, run("probe", console.get("/healthz")))
    return order


async def test_handler_test_catastrophic_regex_keeps_console_serving(console: Console):
    spec = {
        "rules": [{"when": [{"kind": "regex", "path": "s", "value": "(a|aa)+$"}], "response": {"output": "hit"}}],
        "default": {"output": "miss"},
    }
    request = console.post("/api/handlers/test", json={"kind": "rules", "spec": spec, "args": {"s": "a" * 30 + "b"}})
    assert await _served_while(request, console) == ["probe", "work"]
    answer = await console.post(
        "/api/handlers/test", json={"kind": "rules", "spec": spec, "args": {"s": "a" * 30 + "b"}}
    )
    assert answer.status_code == 200 and "took over" in answer.json()["output"], answer.text
