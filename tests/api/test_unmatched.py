"""Unmatched calls through the API: a rules handler answers a real run's call without a rule, the call is listed
with its nearest rule's diff, cleared, or turned into a rule that answers the next run."""

from __future__ import annotations

import json
from typing import Any

from app.runtime import Runtime
from app.services import unmatched
from tests.builders import AGENT_ID, CLOCK, Console, make_status, wait_for

OSLO_ONLY = {
    "rules": [
        {
            "name": "Oslo",
            "when": [{"kind": "equals", "path": "timezone", "value": "Europe/Oslo"}],
            "response": {"output": "noon in Oslo"},
        }
    ]
}


async def _rules_handler(console: Console, spec: dict[str, Any] | None = None, mode: str = "auto") -> int:
    saved = await console.save_handler(
        agent_id=CLOCK, tool_name="get_current_time", kind="rules", mode=mode, spec=spec or OSLO_ONLY
    )
    return int(saved["id"])


async def _unmatched(console: Console, handler_id: int, count: int = 1) -> list[dict[str, Any]]:
    async def listed() -> list[dict[str, Any]]:
        response = await console.get(f"/api/handlers/{handler_id}/unmatched")
        assert response.status_code == 200, response.text
        calls = response.json()
        return calls if len(calls) >= count else []

    return list(await wait_for(listed))


async def test_call_no_rule_matched_is_listed_with_nearest_rule_diff(console: Console, runtime: Runtime):
    handler_id = await _rules_handler(console)
    task_id = await console.start(CLOCK, {"1": "Asia/Tokyo"})
    run = await console.wait_for_status(task_id, "completed", acknowledged=True)
    assert run["result"].startswith("I could not read the clock in Asia/Tokyo: no rule matched")

    [call] = await _unmatched(console, handler_id)

    assert (call["task_id"], call["round"], call["tool_name"]) == (task_id, 1, "get_current_time")
    assert call["tool_call_id"] == run["rounds"][0]["tool_calls"][0]["tool_call_id"]
    assert call["arguments"] == {"timezone": "Asia/Tokyo"}
    assert (call["by_default"], call["is_error"], call["handler_version"]) == (False, True, 1)
    assert call["nearest"]["label"] == "rule 1 (Oslo)"
    assert call["nearest"]["checks"] == [
        {"matcher_index": 0, "matched": False, "text": "timezone: expected 'Europe/Oslo', got 'Asia/Tokyo'"}
    ]


async def test_call_answered_by_default_is_listed_as_such(console: Console, runtime: Runtime):
    handler_id = await _rules_handler(console, {**OSLO_ONLY, "default": {"output": "some time"}}, mode="suggest")
    task_id = await console.start(CLOCK, {"1": "UTC"})
    await console.pending_round(task_id, drafted=True)

    [call] = await _unmatched(console, handler_id)

    assert (call["by_default"], call["is_error"], call["output"]) == (True, False, "some time")
    assert call["nearest"]["text"].startswith("rule 1 (Oslo), 0 of 1 conditions match")


async def test_call_a_rule_matched_is_not_listed(console: Console, runtime: Runtime):
    handler_id = await _rules_handler(console)
    await console.wait_for_status(await console.start(CLOCK, {"1": "Europe/Oslo"}), "completed")
    await console.wait_for_status(await console.start(CLOCK, {"1": "Asia/Tokyo"}), "completed")

    calls = await _unmatched(console, handler_id)

    assert [c["arguments"] for c in calls] == [{"timezone": "Asia/Tokyo"}]


async def test_new_rule_from_unmatched_call_answers_next_run(console: Console, runtime: Runtime):
    handler_id = await _rules_handler(console)
    await console.wait_for_status(await console.start(CLOCK, {"1": "Asia/Tokyo"}), "completed")
    [call] = await _unmatched(console, handler_id)

    response = await console.post(
        f"/api/handlers/{handler_id}/unmatched/{call['id']}/rule", json={"output": "9 pm in {{ args.timezone }}"}
    )

    assert response.status_code == 200, response.text
    assert response.json()["version"] == 2
    rules = response.json()["spec"]["rules"]
    assert rules[1]["when"] == [{"kind": "equals", "path": "timezone", "value": "Asia/Tokyo"}]
    assert (await console.get(f"/api/handlers/{handler_id}/unmatched")).json() == []
    run = await console.wait_for_status(await console.start(CLOCK, {"1": "Asia/Tokyo"}), "completed", acknowledged=True)
    assert run["result"] == "The current time in Asia/Tokyo is 9 pm in Asia/Tokyo."


async def test_clear_unmatched_empties_the_list(console: Console, runtime: Runtime):
    handler_id = await _rules_handler(console)
    await console.wait_for_status(await console.start(CLOCK, {"1": "Asia/Tokyo"}), "completed")
    await _unmatched(console, handler_id)

    response = await console.delete(f"/api/handlers/{handler_id}/unmatched")

    assert response.status_code == 204, response.text
    assert (await console.get(f"/api/handlers/{handler_id}/unmatched")).json() == []


async def test_unmatched_of_unknown_handler_or_call_is_404(console: Console):
    assert (await console.get("/api/handlers/999/unmatched")).status_code == 404
    assert (await console.delete("/api/handlers/999/unmatched")).status_code == 404
    handler_id = await _rules_handler(console)
    response = await console.post(f"/api/handlers/{handler_id}/unmatched/5/rule", json={"output": "x"})
    assert response.status_code == 404
    assert "no unmatched call 5" in response.json()["error"]["message"]


async def test_deleting_handler_forgets_its_unmatched_calls(console: Console, runtime: Runtime):
    handler_id = await _rules_handler(console)
    await console.wait_for_status(await console.start(CLOCK, {"1": "Asia/Tokyo"}), "completed")
    await _unmatched(console, handler_id)

    assert (await console.delete(f"/api/handlers/{handler_id}")).status_code == 204
    new_id = await _rules_handler(console)

    assert (await console.get(f"/api/handlers/{new_id}/unmatched")).json() == []
    assert unmatched.unmatched_mark(engine=runtime.engine, handler_id=handler_id) == (0, 0)


async def test_unmatched_call_with_unparsed_arguments_refuses_a_rule(console: Console, runtime: Runtime):
    saved = await console.save_handler(
        agent_id=AGENT_ID, tool_name="get_current_time", kind="rules", mode="suggest", spec=OSLO_ONLY
    )
    truncated = [{"id": "call_1", "name": "get_current_time", "arguments": '{"timezone": "Os'}]
    await console.deliver(make_status(tool_calls=truncated), "c10-unmatched")
    [call] = await _unmatched(console, saved["id"])
    assert call["arguments"] is None and call["arguments_problem"].startswith("not valid JSON")
    assert call["nearest"] is None

    response = await console.post(f"/api/handlers/{saved['id']}/unmatched/{call['id']}/rule", json={"output": "x"})

    assert response.status_code == 422
    assert "add a default or an `any` rule" in response.json()["error"]["message"]


async def test_rule_from_call_with_an_output_too_deep_or_not_json_is_422(console: Console):
    handler_id = await _rules_handler(console)
    await console.wait_for_status(await console.start(CLOCK, {"1": "Asia/Tokyo"}), "completed")
    [call] = await _unmatched(console, handler_id)
    deep: Any = "x"
    for _ in range(300):
        deep = {"k": deep}
    path = f"/api/handlers/{handler_id}/unmatched/{call['id']}/rule"

    for output, expected in ((deep, "nests more than 100 levels deep"), ({"a": "X\ud800"}, "lone UTF-16 surrogate")):
        text = json.dumps({"output": output})
        response = await console.post(path, content=text, headers={"content-type": "application/json"})
        assert response.status_code == 422, response.text
        assert response.json()["error"]["message"].startswith("output: ") and expected in response.text

    assert (await console.get(f"/api/handlers/{handler_id}/versions")).json()[0]["version"] == 1
