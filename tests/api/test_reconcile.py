"""Reconciliation after a restart: one status request per open run, never a loop."""

from __future__ import annotations

import time

from app.runtime import Runtime
from app.services.reconcile import reconcile_runs
from tests.builders import CLOCK, Console, make_status


async def test_reconcile_run_unknown_to_platform_marked_lost(console: Console, runtime: Runtime):
    await console.deliver(make_status(7501), "m")
    assert await reconcile_runs(engine=runtime.engine, client=runtime.client, before=time.time()) == [7501]
    run = await console.run(7501)
    assert run["status"] == "lost"
    assert run["rounds"][0]["state"] == "closed"
    assert "no longer knows this run" in run["events"][-1]["summary"]
    assert await console.pending() == []


async def test_reconcile_run_known_and_current_changes_nothing(console: Console, runtime: Runtime):
    task_id = await console.start(CLOCK)
    await console.pending_round(task_id)
    assert await reconcile_runs(engine=runtime.engine, client=runtime.client, before=time.time()) == []
    assert (await console.run(task_id))["status"] == "awaiting_tool_calls"
    assert len(await console.pending()) == 1


async def test_reconcile_skips_runs_changed_since_start(console: Console, runtime: Runtime):
    started = time.time()
    await console.deliver(make_status(7502), "m")
    assert await reconcile_runs(engine=runtime.engine, client=runtime.client, before=started) == []
    assert (await console.run(7502))["status"] == "awaiting_tool_calls"


async def test_reconcile_releases_round_left_submitting(console: Console):
    import time

    from app.db import write_session
    from app.models import Round
    from app.runtime import get_runtime
    from app.services.reconcile import reconcile_runs

    await console.deliver(make_status(7403), "msg_claimed")
    [round_] = await console.pending()
    runtime = get_runtime()
    with write_session(runtime.engine) as session:  # what a stop in the middle of a send leaves behind
        row = session.get(Round, round_["id"])
        assert row is not None
        row.state = "submitting"
        session.add(row)
    await reconcile_runs(engine=runtime.engine, client=runtime.client, before=time.time())
    assert (await console.get(f"/api/rounds/{round_['id']}")).json()["state"] in {"pending", "closed"}
    run = (await console.get("/api/runs/7403")).json()
    assert run["rounds"][0]["state"] != "submitting"
