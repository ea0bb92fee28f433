"""``POST /api/rounds/{id}/skip``: every call answered with is_error and the reason, once."""

from __future__ import annotations

import pytest

from app.runtime import Runtime
from tests.builders import TRIP, Console


async def test_skip_round_sends_reason_as_error_for_every_call(console: Console, runtime: Runtime):
    task_id = await console.start(TRIP)
    round_ = await console.pending_round(task_id)
    answered = await console.post(
        f"/api/rounds/{round_['id']}/skip", json={"reason": "no flights API in CI", "answered_by": "ci"}
    )
    assert answered.status_code == 200, answered.text
    assert answered.json()["answered_by"] == "person: ci (token tests)"
    assert runtime.simulator is not None
    [(task, body)] = runtime.simulator.received
    assert task == task_id
    assert {(r.tool_call_id, r.output, r.is_error) for r in body.results} == {
        (c["tool_call_id"], "no flights API in CI", True) for c in round_["tool_calls"]
    }


@pytest.mark.parametrize("reason", ["   ", "\u200b\u200b", "\x00", " \u2060\n"])
async def test_skip_round_blank_reason_refused_422(console: Console, runtime: Runtime, reason: str):
    """Nothing visible is no reason: the model would read an empty error (a zero-width space passed ``strip``)."""
    task_id = await console.start(TRIP)
    round_ = await console.pending_round(task_id)
    refused = await console.post(f"/api/rounds/{round_['id']}/skip", json={"reason": reason})
    assert refused.status_code == 422
    assert "say why the round is skipped" in refused.json()["error"]["message"]
    assert runtime.simulator is not None and runtime.simulator.received == []


async def test_skip_round_twice_refused_409(console: Console):
    task_id = await console.start(TRIP)
    round_ = await console.pending_round(task_id)
    first = await console.post(f"/api/rounds/{round_['id']}/skip", json={"reason": "down"})
    assert first.status_code == 200, first.text
    again = await console.post(f"/api/rounds/{round_['id']}/skip", json={"reason": "down"})
    assert again.status_code == 409


async def test_skip_and_responses_name_the_token_that_sent_them_not_only_the_name_claimed(
    console: Console, runtime: Runtime
):
    """A token cannot make a round read "answered by person: alice": the stored answerer names the token too."""
    skipped_id = await console.start(TRIP)
    skipped = await console.pending_round(skipped_id)
    answered = await console.post(f"/api/rounds/{skipped['id']}/skip", json={"reason": "down", "answered_by": "alice"})
    assert answered.json()["answered_by"] == "person: alice (token tests)"

    sent_id = await console.start(TRIP)
    sent = await console.pending_round(sent_id)
    outputs = {"get_weather": "rain", "search_flights": "none"}
    await console.answer(sent, outputs, answered_by="alice")
    run = await console.run(sent_id)
    assert run["rounds"][0]["answered_by"] == "person: alice (token tests)"
    assert {r["answered_by"] for r in run["rounds"][0]["results"]} == {"person: alice (token tests)"}
