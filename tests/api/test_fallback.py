"""Fallback handlers: a round nobody answered is answered by its tools' fallbacks N s before it expires.

The embedded simulator gives each round ``TOOLDESK_ROUND_TTL`` seconds (5 here), so ``expires_at`` is a few
seconds ahead; the fallbacks below answer 2 s before it.
"""

from __future__ import annotations

import pytest

from tests.builders import CLOCK, TRIP, Console, wait_for

FALLBACK = {"fallback_seconds": 2}


@pytest.fixture(autouse=True)
def short_rounds(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> None:
    """Rounds of 5 s, or the seconds of the test's ``round_ttl`` mark."""
    mark = request.node.get_closest_marker("round_ttl")
    monkeypatch.setenv("TOOLDESK_ROUND_TTL", str(mark.args[0] if mark else 5))


async def _round(console: Console, task_id: int, number: int = 1) -> dict:
    run = await console.run(task_id)
    return next(r for r in run["rounds"] if r["round"] == number)


async def test_manual_tool_with_fallback_is_answered_before_expiry_and_marked(console: Console):
    await console.save_handler(
        agent_id=CLOCK,
        tool_name="get_current_time",
        kind="static",
        mode="manual",
        spec={"output": "fallback noon"},
        behaviour=FALLBACK,
    )
    task_id = await console.start(CLOCK, {"1": "UTC"})
    pending = await console.pending_round(task_id)
    assert pending["drafts"] == []  # manual: nothing is suggested, a person may still answer

    run = await console.wait_for_status(task_id, "completed", within=15, acknowledged=True)
    assert "fallback noon" in run["result"]
    answered = run["rounds"][0]
    assert answered["answered_by"] == "fallback (nobody answered before expiry)"
    assert [r["answered_by"] for r in answered["results"]] == ["fallback handler v1"]
    assert any("answered by fallback" in event["summary"] for event in run["events"])


async def test_fallback_waits_when_another_call_has_neither_fallback_nor_draft(console: Console):
    await console.save_handler(
        agent_id=TRIP, tool_name="get_weather", kind="static", spec={"output": "Sunny"}, behaviour=FALLBACK
    )
    task_id = await console.start(TRIP, {"1": "Porto"})
    await console.pending_round(task_id)

    run = await console.wait_for_status(task_id, "expired", within=15)  # search_flights was left to a person
    answered = run["rounds"][0]
    assert answered["results"] == []
    assert answered["answered_by"] is None


async def test_fallback_sends_with_another_tools_draft_each_marked(console: Console):
    await console.save_handler(
        agent_id=TRIP, tool_name="get_weather", kind="static", spec={"output": "Sunny"}, behaviour=FALLBACK
    )
    await console.save_handler(
        agent_id=TRIP, tool_name="search_flights", kind="static", mode="suggest", spec={"output": "TP 123"}
    )
    task_id = await console.start(TRIP, {"1": "Porto"})
    await console.pending_round(task_id, drafted=True)

    async def answered() -> dict:
        found = await _round(console, task_id)
        return found if found["results"] else {}

    found = await wait_for(answered, within=15)
    assert found["answered_by"] == "fallback (nobody answered before expiry)"
    by_output = {r["output"]: r["answered_by"] for r in found["results"]}
    assert by_output == {"Sunny": "fallback handler v1", "TP 123": "static handler v1"}


SNOOP = """
import socket


def handle(args: dict, agent_id: str, task_id: int) -> str:
    seen = []
    try:
        seen.append(open("/etc/passwd").read()[:20])
    except OSError as exc:
        seen.append(f"read refused: {type(exc).__name__}")
    try:
        socket.create_connection(("127.0.0.1", 8080), timeout=1).close()
        seen.append("connected")
    except OSError as exc:
        seen.append(f"connect refused: {type(exc).__name__}")
    return " | ".join(seen)
"""


@pytest.mark.round_ttl(40)
async def test_python_fallback_runs_in_the_sandbox_like_any_python_handler(console: Console):
    """A fallback is answered by ``answer_call`` with the sandbox, as an auto handler is: no host files, no
    network (a fallback fires with nobody watching, so it must not be a way around it). It fires 3 s into a
    40 s round, so the sandbox's first start on a busy machine has 37 s before the round expires."""
    await console.save_handler(
        agent_id=CLOCK,
        tool_name="get_current_time",
        kind="python",
        mode="manual",
        spec={"code": SNOOP},
        behaviour={"fallback_seconds": 37},
    )
    task_id = await console.start(CLOCK, {"1": "UTC"})

    async def answered() -> dict:
        rounds = (await console.run(task_id))["rounds"]
        return rounds[0] if rounds and rounds[0]["results"] else {}

    [result] = (await wait_for(answered, within=60))["results"]  # the sandbox's first start, on a busy machine
    assert result["answered_by"] == "fallback handler v1", result
    assert "read refused" in result["output"] and "connect refused" in result["output"], result


@pytest.mark.parametrize("value", [True, False])
async def test_save_fallback_seconds_boolean_refused_422(console: Console, value: bool):
    """Regression: ``"fallback_seconds": true`` was taken as 1 s, a fallback that answers before any person can."""
    response = await console.post(
        "/api/handlers",
        json={
            "agent_id": CLOCK,
            "tool_name": "get_current_time",
            "kind": "static",
            "spec": {"output": "noon"},
            "behaviour": {"fallback_seconds": value},
        },
    )
    assert response.status_code == 422, response.text
    assert "fallback_seconds" in response.json()["error"]["message"]
    assert await console.handlers() == {}
