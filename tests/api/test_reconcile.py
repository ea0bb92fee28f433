"""Reconciliation after a restart: one status request per open run, never a loop."""

from __future__ import annotations

import time

import httpx

from app.runtime import Runtime
from app.services.reconcile import reconcile_runs
from tests.builders import encode, make_status, sign, wait_for

CLOCK = "3f1c2a7e-5b8d-4e0a-9c61-0c1e2d3a4b01"


async def test_reconcile_run_unknown_to_platform_marked_lost(console: httpx.AsyncClient, runtime: Runtime):
    body = encode(make_status(7501))
    assert (await console.post("/webhooks/sudoiq", content=body, headers=sign(body, msg_id="m"))).status_code == 200
    assert await reconcile_runs(engine=runtime.engine, client=runtime.client, before=time.time()) == [7501]
    run = (await console.get("/api/runs/7501")).json()
    assert run["status"] == "lost"
    assert run["rounds"][0]["state"] == "closed"
    assert "no longer knows this run" in run["events"][-1]["summary"]
    assert (await console.get("/api/rounds")).json() == []


async def test_reconcile_run_known_and_current_changes_nothing(console: httpx.AsyncClient, runtime: Runtime):
    task_id = (await console.post(f"/api/agents/{CLOCK}/runs", json={})).json()["task_id"]

    async def pending() -> list:
        return (await console.get("/api/rounds")).json()

    await wait_for(pending)
    assert await reconcile_runs(engine=runtime.engine, client=runtime.client, before=time.time()) == []
    assert (await console.get(f"/api/runs/{task_id}")).json()["status"] == "awaiting_tool_calls"
    assert len(await pending()) == 1


async def test_reconcile_skips_runs_changed_since_start(console: httpx.AsyncClient, runtime: Runtime):
    started = time.time()
    body = encode(make_status(7502))
    assert (await console.post("/webhooks/sudoiq", content=body, headers=sign(body, msg_id="m"))).status_code == 200
    assert await reconcile_runs(engine=runtime.engine, client=runtime.client, before=started) == []
    assert (await console.get("/api/runs/7502")).json()["status"] == "awaiting_tool_calls"
