"""Case C10 and its kind: tool call arguments that do not parse to a JSON object reach a person and handlers.

The embedded simulator plays an agent whose round sends ``{"city": "Os`` (truncated JSON) and ``"null"`` (valid
JSON, not an object) as argument strings, through the real signed webhook.
"""

from __future__ import annotations

import json

import pytest

from app.runtime import Runtime
from tests.builders import Console, make_status
from tests.unparsed_agent import NOT_AN_OBJECT, TRUNCATED, unparsed_agent

__all__ = ["unparsed_agent"]  # the fixture these tests use


async def test_unparsed_arguments_round_pending_with_text_and_reason(unparsed_agent: str, console: Console):
    task_id = await console.start(unparsed_agent)
    round_ = await console.pending_round(task_id)
    cut, null = round_["tool_calls"]
    assert (cut["arguments"], cut["arguments_text"]) == ({}, TRUNCATED)
    assert cut["arguments_problem"].startswith("not valid JSON: Unterminated string")
    assert (null["arguments"], null["arguments_text"]) == ({}, NOT_AN_OBJECT)
    assert null["arguments_problem"] == "valid JSON but not an object (a JSON string)"
    [delivery] = [
        d
        for d in (await console.get("/api/deliveries", params={"task_id": task_id})).json()["deliveries"]
        if d["status"] == "awaiting_tool_calls"
    ]
    assert delivery["verdict"] == "applied"


async def test_unparsed_arguments_answered_with_is_error_run_goes_on(
    unparsed_agent: str, console: Console, runtime: Runtime
):
    task_id = await console.start(unparsed_agent)
    round_ = await console.pending_round(task_id)
    results = [
        {
            "tool_call_id": call["tool_call_id"],
            "output": f"bad arguments: {call['arguments_problem']}",
            "is_error": True,
        }
        for call in round_["tool_calls"]
    ]
    response = await console.post(f"/api/rounds/{round_['id']}/responses", json={"results": results})
    assert response.status_code == 200, response.text
    run = await console.wait_for_status(task_id, "completed", acknowledged=True)
    assert runtime.simulator is not None
    [(_, sent)] = runtime.simulator.received
    assert [r.is_error for r in sent.results] == [True, True]
    assert run["result"].startswith("cut: bad arguments: not valid JSON")


async def test_rules_handler_on_unparsed_arguments_skips_rules_reading_them(
    unparsed_agent: str, console: Console, runtime: Runtime
):
    """A rule whose condition reads the arguments never matches a call whose arguments did not parse (nothing to
    read, and no crash); the default answers."""
    await console.save_handler(
        agent_id=unparsed_agent,
        tool_name="get_weather",
        kind="rules",
        mode="auto",
        spec={
            "rules": [
                {"name": "Oslo", "when": [{"kind": "regex", "path": "", "value": "."}], "response": {"output": "x"}}
            ],
            "default": {"output": "cannot read the arguments", "is_error": True},
        },
    )
    task_id = await console.start(unparsed_agent)
    await console.wait_for_status(task_id, "completed")
    assert runtime.simulator is not None
    [(_, sent)] = runtime.simulator.received
    assert [(r.output, r.is_error) for r in sent.results] == [("cannot read the arguments", True)] * 2


async def test_rules_handler_without_default_on_unparsed_arguments_says_why(unparsed_agent: str, console: Console):
    await console.save_handler(
        agent_id=unparsed_agent,
        tool_name="get_weather",
        kind="rules",
        mode="suggest",
        spec={"rules": [{"name": "Oslo", "when": [{"kind": "equals", "path": "city", "value": "Oslo"}]}]},
    )
    task_id = await console.start(unparsed_agent)
    round_ = await console.pending_round(task_id, drafted=True)
    draft = round_["drafts"][0]
    assert draft["is_error"]
    assert draft["output"].startswith("the arguments are not valid JSON")
    assert "no rule that reads them matched" in draft["output"]


async def test_python_handler_on_unparsed_arguments_not_run_error_quotes_text(
    unparsed_agent: str, console: Console, runtime: Runtime
):
    await console.save_handler(
        agent_id=unparsed_agent,
        tool_name="get_weather",
        kind="python",
        mode="auto",
        spec={"code": "def handle(args, agent_id, task_id):\n    return args['city']\n"},
    )
    task_id = await console.start(unparsed_agent)
    await console.wait_for_status(task_id, "completed", within=20)
    assert runtime.simulator is not None
    [(_, sent)] = runtime.simulator.received
    first, second = sent.results
    assert first.is_error and first.output.startswith("the arguments are not valid JSON")
    assert first.output.endswith(f"the handler was not run. Sent: {TRUNCATED}")
    assert second.is_error and second.output.endswith(f"Sent: {NOT_AN_OBJECT}")


async def test_save_as_rule_on_unparsed_arguments_refused_not_a_catch_all(unparsed_agent: str, console: Console):
    task_id = await console.start(unparsed_agent)
    round_ = await console.pending_round(task_id)
    results = [{"tool_call_id": c["tool_call_id"], "output": "x", "is_error": True} for c in round_["tool_calls"]]
    assert (await console.post(f"/api/rounds/{round_['id']}/responses", json={"results": results})).status_code == 200
    call_id = round_["tool_calls"][0]["tool_call_id"]
    response = await console.post(f"/api/rounds/{round_['id']}/calls/{call_id}/rule", json={})
    assert response.status_code == 422, response.text
    assert "a rule needs arguments to match on" in response.json()["error"]["message"]
    assert await console.handlers() == {}


@pytest.mark.parametrize("depth", [150, 300, 900])
async def test_arguments_nested_deep_kept_as_text_round_pending(console: Console, depth: int):
    """Regression: arguments nesting 300 objects deep (inside what JSON and Python read) hit pydantic's parser
    limit of 200 levels, so the whole status was refused 400 and the run never appeared. They are now arguments
    that do not parse (case C10): kept as text with the reason, and the round is pending."""
    arguments: dict = {}
    for _ in range(depth):
        arguments = {"a": arguments}
    status = make_status(7701, tool_calls=[{"id": "c1", "name": "t", "arguments": arguments}])
    await console.deliver(status, "m_deep")
    [round_] = await console.pending(7701)
    [call] = round_["tool_calls"]
    assert call["arguments"] == {}
    assert "nested more than 100 levels deep" in call["arguments_problem"]
    assert json.loads(call["arguments_text"]) == arguments
    assert (await console.get("/api/runs/7701")).status_code == 200
