"""Regression: the responder's drafts ignore mode changes made after they were (or while they are being) drafted."""

from __future__ import annotations

from app.runtime import Runtime
from tests.builders import CLOCK, FLAKY, Console


async def test_set_mode_suggest_to_auto_submits_pending_round(console: Console, runtime: Runtime):
    """A round drafted in suggest mode never submits after the handler is switched to auto: the sweep skips
    the call because a (suggest) draft exists, and ``_all_auto`` refuses because that draft's mode is suggest."""
    saved = await console.save_handler(
        agent_id=CLOCK, tool_name="get_current_time", kind="static", mode="suggest", spec={"output": "noon"}
    )
    task_id = await console.start(CLOCK)
    await console.pending_round(task_id, drafted=True)
    moved = await console.put(f"/api/handlers/{saved['id']}/mode", json={"mode": "auto"})
    assert moved.status_code == 200, moved.text
    await console.wait_for_status(task_id, "completed", within=3)
    assert runtime.simulator is not None
    assert [body.results[0].output for _, body in runtime.simulator.received] == ["noon"]


async def test_set_mode_auto_to_manual_while_drafting_not_auto_submitted(console: Console, runtime: Runtime):
    """Switching a handler to manual while its (slow) answer is being drafted still auto-submits the round:
    the draft keeps the mode read before the handler ran, and ``_all_auto`` trusts the draft's mode."""
    saved = await console.save_handler(
        agent_id=FLAKY,
        tool_name="fetch_quote",
        kind="static",
        mode="auto",
        spec={"output": "42"},
        behaviour={"latency_ms": 800},
    )
    task_id = await console.start(FLAKY)
    await console.pending_round(task_id)
    moved = await console.put(f"/api/handlers/{saved['id']}/mode", json={"mode": "manual"})
    assert moved.status_code == 200, moved.text
    await runtime.responder.idle()
    assert runtime.simulator is not None
    assert runtime.simulator.received == []
    run = await console.run(task_id)
    assert run["rounds"][0]["state"] == "pending"
