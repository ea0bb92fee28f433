"""Edge cases of the JSON API: bad ids and platform failures give a 4xx in the contract's shape, never a 500."""

from __future__ import annotations

import httpx
import pytest

from tests.builders import encode, make_status, sign

HUGE = str(2**63)  # one past SQLite's 64-bit INTEGER


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", f"/api/runs/{HUGE}"),
        ("GET", f"/api/rounds/{HUGE}"),
        ("GET", f"/api/deliveries/{HUGE}"),
        ("GET", f"/api/deliveries?task_id={HUGE}"),
        ("GET", f"/api/runs?page={HUGE}"),
        ("POST", f"/api/rounds/{HUGE}/responses"),
    ],
    ids=["run", "round", "delivery", "deliveries-task_id", "runs-page", "submit"],
)
async def test_get_id_beyond_int64_is_4xx_not_500(console: httpx.AsyncClient, method: str, path: str):
    """Regression: OverflowError binding the id into SQLite -> 500 Internal Server Error (plain text)."""
    body = {"results": [{"tool_call_id": "call_1", "output": "x"}]} if method == "POST" else None
    response = await console.request(method, path, json=body)
    assert 400 <= response.status_code < 500, (response.status_code, response.text)
    assert "error" in response.json()


async def test_submit_round_agent_id_with_control_character_not_stuck(console: httpx.AsyncClient):
    """A round whose agent_id holds a control character: once ``httpx.InvalidURL`` escaped the client, the API
    answered 500 and the round stayed ``submitting`` forever. The id is now percent-encoded: the platform
    answers 404 and the round closes with its words."""
    body = make_status(7401, tool_calls=[{"id": "call_1", "name": "get_current_time", "arguments": {}}])
    body["agent_id"] = "agent\nx"
    raw = encode(body)
    assert (
        await console.post("/webhooks/sudoiq", content=raw, headers=sign(raw, msg_id="msg_ctrl"))
    ).status_code == 200
    [round_] = (await console.get("/api/rounds")).json()
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
    console: httpx.AsyncClient, caplog: pytest.LogCaptureFixture, reply, state: str
):
    """A 2xx whose body is not a run status counts as accepted; an unexpected exception keeps the submission
    in the outbox for another attempt (same Idempotency-Key) instead of a 500 or a round claimed forever."""
    from app.answerers import Answerer
    from app.platform.client import PlatformClient
    from app.protocol import ToolResult
    from app.runtime import get_runtime
    from app.services.outbox import Outbox
    from app.services.rounds import submit_round

    raw = encode(make_status(7402))
    headers = sign(raw, msg_id="msg_odd_reply")
    assert (await console.post("/webhooks/sudoiq", content=raw, headers=headers)).status_code == 200
    [round_] = (await console.get("/api/rounds")).json()
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


async def test_start_run_agent_id_with_control_character_is_4xx(console: httpx.AsyncClient):
    """``POST /api/agents/a%0Ab/runs``: before the fix httpx.InvalidURL escapes the client -> 500."""
    response = await console.post("/api/agents/a%0Ab/runs", json={})
    assert 400 <= response.status_code < 500, (response.status_code, response.text)
    assert "error" in response.json()


async def test_webhook_route_wrong_method_is_405_in_contract_shape(console: httpx.AsyncClient):
    response = await console.get("/webhooks/sudoiq")
    assert response.status_code == 405
    assert response.json()["error"]["code"] == "method_not_allowed"


async def test_reconcile_releases_round_left_submitting(console: httpx.AsyncClient):
    import time

    from app.db import write_session
    from app.models import Round
    from app.runtime import get_runtime
    from app.services.reconcile import reconcile_runs

    raw = encode(make_status(7403))
    assert (
        await console.post("/webhooks/sudoiq", content=raw, headers=sign(raw, msg_id="msg_claimed"))
    ).status_code == 200
    [round_] = (await console.get("/api/rounds")).json()
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


async def test_mount_routes_does_not_wrap_the_app_lifespan_again(console: httpx.AsyncClient):
    """Regression: ``include_router`` wrapped NiceGUI's lifespan once more for every build, and the test plugin
    builds the app for every test: after ~400 tests starting the app overflowed the stack."""
    from fastapi import APIRouter
    from nicegui import app as nicegui_app

    from app.main import _mount

    before = nicegui_app.router.lifespan_context
    _mount(APIRouter())
    assert nicegui_app.router.lifespan_context is before
