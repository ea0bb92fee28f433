"""Each sandbox worker answers one call and is then replaced, and its replacement is warm before the call ends."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
import pytest_asyncio

from app.handlers.sandbox import Sandbox
from tests.builders import wait_for

on_module_loop = pytest.mark.asyncio(loop_scope="module")

# What a call leaves behind: a file in its /tmp, a global in its interpreter, a module attribute. Each run reports
# what it found of a previous call's, then leaves its own.
LEFT_BEHIND = (
    "import json, os, sys\n"
    "def handle(args, agent_id, task_id):\n"
    "    found = {\n"
    "        'tmp': os.path.exists('/tmp/left-behind') or os.path.exists(os.path.join(os.environ['HOME'], 'left')),\n"
    "        'module': hasattr(json, 'left_behind'),\n"
    "        'builtins': hasattr(sys, 'left_behind'),\n"
    "    }\n"
    "    for path in ('/tmp/left-behind', os.path.join(os.environ['HOME'], 'left')):\n"
    "        try:\n"
    "            open(path, 'w').write(str(task_id))\n"
    "        except OSError:\n"
    "            pass\n"
    "    json.left_behind = task_id\n"
    "    sys.left_behind = task_id\n"
    "    return found\n"
)
SLOW = "import time\ndef handle(args, agent_id, task_id):\n    time.sleep(8.0)\n    return 'slept'\n"
"""Longer than a worker takes to start, even on a busy machine (about 0.4 s on a quiet one)."""


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def sandbox() -> AsyncIterator[Sandbox]:
    """One warm worker, so every call after the first would land on a reused worker if the pool kept it."""
    pool = Sandbox(workers=1, timeout=5.0)
    await pool.start()
    yield pool
    await pool.aclose()


@on_module_loop
async def test_run_one_after_another_never_see_what_the_previous_call_left(sandbox: Sandbox) -> None:
    outcomes = [await sandbox.run(code=LEFT_BEHIND, args={}, agent_id="agent-1", task_id=number) for number in range(3)]

    assert [o.failure for o in outcomes] == [None, None, None], [o.output for o in outcomes]
    assert [o.output for o in outcomes] == ['{"tmp": false, "module": false, "builtins": false}'] * 3


@on_module_loop
async def test_run_replacement_is_warm_while_the_call_still_runs(sandbox: Sandbox) -> None:
    await wait_for(lambda: sandbox.idle_workers == 1, within=20.0)

    running = asyncio.create_task(sandbox.run(code=SLOW, args={}, agent_id="agent-1", task_id=1, timeout=30.0))
    await wait_for(lambda: sandbox.idle_workers == 0, within=5.0)  # the call took the only warm worker
    await wait_for(lambda: sandbox.idle_workers == 1 or running.done(), within=20.0)

    assert not running.done()  # a fresh worker is ready before the call that took the last one ends
    assert (await running).output == "slept"


@on_module_loop
async def test_run_after_a_crash_the_pool_is_warm_again(sandbox: Sandbox) -> None:
    crashed = await sandbox.run(
        code="import os\ndef handle(a, b, c):\n    os._exit(1)\n", args={}, agent_id="agent-1", task_id=1
    )
    assert crashed.failure == "crashed"

    await wait_for(lambda: sandbox.idle_workers == 1, within=20.0)
    outcome = await sandbox.run(code=LEFT_BEHIND, args={}, agent_id="agent-1", task_id=2)
    assert outcome.output == '{"tmp": false, "module": false, "builtins": false}'
