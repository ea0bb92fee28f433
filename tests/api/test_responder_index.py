"""The webhook hands the responder only rounds something may answer (``Outcome.answerable``): a round of an agent
with no handler is still answered once a handler for its tool is saved, and so is every later round."""

from __future__ import annotations

import asyncio
import gc
import warnings

from app.runtime import Runtime
from tests.builders import AGENT_ID, Console, make_status


async def test_round_of_agent_given_a_handler_later_is_drafted(console: Console, runtime: Runtime):
    await console.deliver(make_status(7301), "msg_7301")
    await runtime.responder.idle()
    [before] = await console.pending(7301)
    assert before["drafts"] == []  # no handler yet: nothing drafted it

    await console.save_handler(
        agent_id=AGENT_ID, tool_name="get_current_time", kind="static", mode="suggest", spec={"output": "noon"}
    )
    drafted = await console.pending_round(7301, drafted=True)  # the handler change's sweep found it
    assert [d["output"] for d in drafted["drafts"]] == ["noon"]

    await console.deliver(make_status(7302), "msg_7302")  # a round that arrives after the change
    later = await console.pending_round(7302, drafted=True)
    assert [d["output"] for d in later["drafts"]] == ["noon"]


async def test_round_answered_after_handler_deleted_and_saved_again(console: Console, runtime: Runtime):
    saved = await console.save_handler(
        agent_id=AGENT_ID, tool_name="get_current_time", kind="static", mode="suggest", spec={"output": "noon"}
    )
    await console.deliver(make_status(7311), "msg_7311")
    await console.pending_round(7311, drafted=True)

    deleted = await console.delete(f"/api/handlers/{saved['id']}")
    assert deleted.status_code in (200, 204), deleted.text
    await runtime.responder.idle()
    await console.deliver(make_status(7312), "msg_7312")
    await runtime.responder.idle()
    assert (await console.pending(7312))[0]["drafts"] == []  # no handler: nothing drafted it

    await console.save_handler(
        agent_id=AGENT_ID, tool_name="get_current_time", kind="static", mode="suggest", spec={"output": "dusk"}
    )
    await console.deliver(make_status(7313), "msg_7313")
    later = await console.pending_round(7313, drafted=True)
    assert [d["output"] for d in later["drafts"]] == ["dusk"]


async def test_manual_handler_with_fallback_sets_the_rounds_timer(runtime: Runtime, console: Console):
    """A manual handler with a fallback answers nothing at once, but its agent's rounds are handed to the
    responder for their fallback timer."""
    await console.save_handler(
        agent_id=AGENT_ID,
        tool_name="get_current_time",
        kind="static",
        mode="manual",
        spec={"output": "late"},
        behaviour={"fallback_seconds": 30},
    )
    await runtime.responder.idle()
    await console.deliver(make_status(7321, expires_at="2099-01-01T00:00:00Z"), "msg_7321")
    [pending] = await console.pending(7321)
    await runtime.responder.idle()
    assert pending["id"] in runtime.responder.fallbacks._timers


async def test_handler_work_cancelled_before_it_starts_leaves_nothing_behind(console: Console, runtime: Runtime):
    """At shutdown NiceGUI cancels background tasks, some before their first step: such a task must still end its
    count (``idle`` returns) and leave no coroutine never awaited (a ``RuntimeWarning`` when collected)."""
    await console.deliver(make_status(7321), "msg_7321")
    await runtime.responder.idle()

    tasks = [runtime.responder.handle_task(7321), runtime.responder.sweep()]
    for task in tasks:
        task.cancel()  # before the loop ran it once
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        await asyncio.wait_for(runtime.responder.idle(), timeout=5)
        gc.collect()
    assert all(task.cancelled() for task in tasks)
    assert [str(w.message) for w in caught if issubclass(w.category, RuntimeWarning)] == []
