"""Regression: the responder's drafts ignore mode changes made after they were (or while they are being) drafted."""

from __future__ import annotations

import asyncio

import httpx

from app.runtime import Runtime
from tests.builders import wait_for

CLOCK = "3f1c2a7e-5b8d-4e0a-9c61-0c1e2d3a4b01"
FLAKY = "3f1c2a7e-5b8d-4e0a-9c61-0c1e2d3a4b03"


async def _save(console: httpx.AsyncClient, **handler) -> dict:
    response = await console.post("/api/handlers", json=handler)
    assert response.status_code == 200, response.text
    return response.json()


async def _start(console: httpx.AsyncClient, agent_id: str) -> int:
    response = await console.post(f"/api/agents/{agent_id}/runs", json={"string_inputs": {}})
    assert response.status_code == 202, response.text
    return response.json()["task_id"]


async def _pending(console: httpx.AsyncClient, task_id: int, *, drafted: bool = False) -> dict:
    async def found() -> list:
        return [
            r
            for r in (await console.get("/api/rounds")).json()
            if r["task_id"] == task_id and (r["drafts"] or not drafted)
        ]

    return (await wait_for(found))[0]


async def test_set_mode_suggest_to_auto_submits_pending_round(console: httpx.AsyncClient, runtime: Runtime):
    """A round drafted in suggest mode never submits after the handler is switched to auto: the sweep skips
    the call because a (suggest) draft exists, and ``_all_auto`` refuses because that draft's mode is suggest."""
    saved = await _save(
        console, agent_id=CLOCK, tool_name="get_current_time", kind="static", mode="suggest", spec={"output": "noon"}
    )
    task_id = await _start(console, CLOCK)
    await _pending(console, task_id, drafted=True)
    moved = await console.put(f"/api/handlers/{saved['id']}/mode", json={"mode": "auto"})
    assert moved.status_code == 200, moved.text

    async def completed() -> bool:
        return (await console.get(f"/api/runs/{task_id}")).json()["status"] == "completed"

    await wait_for(completed, within=3)
    assert runtime.simulator is not None
    assert [body.results[0].output for _, body in runtime.simulator.received] == ["noon"]


async def test_set_mode_auto_to_manual_while_drafting_not_auto_submitted(console: httpx.AsyncClient, runtime: Runtime):
    """Switching a handler to manual while its (slow) answer is being drafted still auto-submits the round:
    the draft keeps the mode read before the handler ran, and ``_all_auto`` trusts the draft's mode."""
    saved = await _save(
        console,
        agent_id=FLAKY,
        tool_name="fetch_quote",
        kind="static",
        mode="auto",
        spec={"output": "42"},
        behaviour={"latency_ms": 800},
    )
    task_id = await _start(console, FLAKY)
    await _pending(console, task_id)
    moved = await console.put(f"/api/handlers/{saved['id']}/mode", json={"mode": "manual"})
    assert moved.status_code == 200, moved.text
    await asyncio.sleep(1.5)
    assert runtime.simulator is not None
    assert runtime.simulator.received == []
    run = (await console.get(f"/api/runs/{task_id}")).json()
    assert run["rounds"][0]["state"] == "pending"
