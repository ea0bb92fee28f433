"""The outbox: a submission the platform cannot take yet lands once, later."""

from __future__ import annotations

import httpx
import pytest

from app.runtime import Runtime
from tests.builders import CLOCK, Console, make_status


async def test_submit_during_outage_queued_then_lands_once(console: Console, runtime: Runtime):
    assert runtime.simulator is not None
    task_id = await console.start(CLOCK)
    round_ = await console.pending_round(task_id)
    runtime.simulator.unavailable_tool_responses = 2
    call_id = round_["tool_calls"][0]["tool_call_id"]
    response = await console.post(
        f"/api/rounds/{round_['id']}/responses", json={"results": [{"tool_call_id": call_id, "output": "noon"}]}
    )
    assert response.status_code == 202, response.text
    assert response.json()["state"] == "submitting"
    assert "503 unavailable" in response.json()["message"]
    run = await console.wait_for_status(task_id, "completed", acknowledged=True)
    assert [(task, body.results[0].output) for task, body in runtime.simulator.received] == [(task_id, "noon")]
    assert run["rounds"][0]["state"] == "submitted"
    assert run["rounds"][0]["message"] == "sent on attempt 3"


async def test_fault_control_requires_api_key(console: Console):
    response = await console.post("/sim/_control/faults", json={"unavailable_tool_responses": 1})
    assert response.status_code == 401


async def test_submit_round_agent_id_with_control_character_not_stuck(console: Console):
    """A round whose agent_id holds a control character: once ``httpx.InvalidURL`` escaped the client, the API
    answered 500 and the round stayed ``submitting`` forever. The id is now percent-encoded: the platform
    answers 404 and the round closes with its words."""
    body = make_status(7401, tool_calls=[{"id": "call_1", "name": "get_current_time", "arguments": {}}])
    body["agent_id"] = "agent\nx"
    await console.deliver(body, "msg_ctrl")
    [round_] = await console.pending()
    response = await console.post(
        f"/api/rounds/{round_['id']}/responses", json={"results": [{"tool_call_id": "call_1", "output": "noon"}]}
    )
    assert response.status_code == 404, response.text
    assert response.json()["error"]["code"] == "not_found"
    assert (await console.get(f"/api/rounds/{round_['id']}")).json()["state"] == "closed"


def _explode(request: httpx.Request) -> httpx.Response:
    raise RuntimeError("a bug between claim and answer")


@pytest.mark.parametrize(
    ("reply", "state"),
    [(lambda request: httpx.Response(200, json={"odd": 1}), "submitted"), (_explode, "submitting")],
    ids=["2xx-reply-not-a-status", "unexpected-exception"],
)
async def test_submit_round_odd_failure_never_strands_round(
    console: Console, caplog: pytest.LogCaptureFixture, reply, state: str
):
    """A 2xx whose body is not a run status counts as accepted; an unexpected exception keeps the submission
    in the outbox for another attempt (same Idempotency-Key) instead of a 500 or a round claimed forever."""
    from app.answerers import Answerer
    from app.platform.client import PlatformClient
    from app.protocol import ToolResult
    from app.runtime import get_runtime
    from app.services.outbox import Outbox
    from app.services.rounds import submit_round

    await console.deliver(make_status(7402), "msg_odd_reply")
    [round_] = await console.pending()
    odd = httpx.AsyncClient(transport=httpx.MockTransport(reply))
    outbox = Outbox(
        engine=get_runtime().engine,
        client=PlatformClient(odd, base_url="http://platform.test", api_key="k"),
        on_change=lambda _: None,
    )
    answered = await submit_round(
        engine=get_runtime().engine,
        outbox=outbox,
        round_id=round_["id"],
        results=[ToolResult(tool_call_id="call_1", output="x")],
        answered_by=Answerer.person("t"),
    )
    assert answered.state == state
    if state == "submitting":
        assert "RuntimeError: a bug between claim and answer" in answered.message
    caplog.clear()  # the unexpected failure is logged as an error on purpose
