"""Regression: after the platform refuses a submission with 422, the corrected submission is sent with the *same*
Idempotency-Key (``tooldesk-{task}-round-{n}-{outbox id}``): ``_claim`` deletes the refused outbox row and
inserts the new one in the same transaction, and SQLite (no AUTOINCREMENT) hands out the freed rowid again.
The docstring says "its key is not reused"; a platform that remembers the key answers the first refusal again
(or, like the simulator, ``422 idempotency_key_reused``)."""

from __future__ import annotations

from app.runtime import Runtime
from app.simulator.refusals import SimulatorError
from tests.builders import CLOCK, Console


async def test_submit_after_platform_422_uses_new_idempotency_key(console: Console, runtime: Runtime):
    simulator = runtime.simulator
    assert simulator is not None
    keys: list[str | None] = []
    real = simulator.send_tool_responses

    async def refuse_first(agent_id, task_id, body, idempotency_key):  # the platform refuses the first body
        keys.append(idempotency_key)
        if len(keys) == 1:
            raise SimulatorError(422, "tool_call_mismatch", "the platform refused this body")
        return await real(agent_id, task_id, body, idempotency_key)

    simulator.send_tool_responses = refuse_first  # type: ignore[method-assign]
    round_ = await console.pending_round(await console.start(CLOCK))
    call_id = round_["tool_calls"][0]["tool_call_id"]
    url = f"/api/rounds/{round_['id']}/responses"
    first = await console.post(url, json={"results": [{"tool_call_id": call_id, "output": "noon?"}]})
    assert first.status_code == 422, first.text
    second = await console.post(url, json={"results": [{"tool_call_id": call_id, "output": "noon"}]})
    assert second.status_code == 200, second.text
    assert len(keys) == 2
    assert keys[0] != keys[1], f"the corrected submission reused the key {keys[0]}"
