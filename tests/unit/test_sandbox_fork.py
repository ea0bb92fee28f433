"""Regression: a snippet that forks leaves a second reader/writer on its worker's socket. Both processes reply, so the
worker's next call receives the forked snippet's answer and every later call on that worker gets the answer of
the call before it (answers shifted by one, sent to the platform as those calls' results)."""

from __future__ import annotations

import asyncio

from app.handlers.sandbox import Sandbox

FORKS = "import os\n\ndef handle(args, agent_id, task_id):\n    os.fork()\n    return 'from the forking snippet'\n"


def _answers(i: int) -> str:
    return f"def handle(args, agent_id, task_id):\n    return 'answer {i}'\n"


async def test_run_after_snippet_forks_gets_own_answer():
    pool = Sandbox(workers=1, timeout=2.0)
    await pool.start()
    try:
        first = await pool.run(code=FORKS, args={}, agent_id="agent-1", task_id=1)
        assert first.output == "from the forking snippet"
        await asyncio.sleep(0.3)  # the forked copy's own reply reaches the console's socket
        outputs = [(await pool.run(code=_answers(i), args={}, agent_id="agent-1", task_id=2)).output for i in range(3)]
    finally:
        await pool.aclose()
    assert outputs == ["answer 0", "answer 1", "answer 2"]
