"""Rules handlers with answers in sequence and a run's state, through real simulated runs: what the platform
receives, and *Test* on chosen counts and states without touching the real ones."""

from __future__ import annotations

import json
from typing import Any

from app.runtime import Runtime
from tests.builders import CLOCK, TRIP, WEATHER_COMPARE, Console


def outputs(runtime: Runtime, task_id: int) -> list[list[tuple[str, bool]]]:
    """What the platform received for the run: per round, each result's output and is_error, in call order."""
    assert runtime.simulator is not None
    return [
        [(r.output, r.is_error) for r in body.results] for task, body in runtime.simulator.received if task == task_id
    ]


async def test_sequence_second_call_in_the_same_run_gets_the_second_answer(console: Console, runtime: Runtime):
    """Weather compare calls get_weather twice in one round: one call gets the first answer, the other the second
    (which is which is the order they were counted in); the next run counts from 1 again."""
    spec: dict[str, Any] = {"rules": [{
        "name": "forecast", "when": [], "response": {"output": "A: sun in {{ args.city }} (call {{ call_count }})"},
        "then": [{"output": "B: rain in {{ args.city }} (call {{ call_count }})"}], "after_end": "fail",
    }]}  # fmt: skip
    await console.save_handler(agent_id=WEATHER_COMPARE, tool_name="get_weather", kind="rules", mode="auto", spec=spec)

    for inputs in ({"1": "Oslo", "2": "Rome"}, {"1": "Lima", "2": "Pune"}):
        task_id = await console.start(WEATHER_COMPARE, inputs)
        await console.wait_for_status(task_id, "completed")
        [answers] = outputs(runtime, task_id)
        first, second = sorted(output for output, _error in answers)
        assert first.startswith("A: sun in ") and first.endswith(" (call 1)"), answers
        assert second.startswith("B: rain in ") and second.endswith(" (call 2)"), answers
        assert not any(error for _output, error in answers)
        assert {output.split(" in ")[1].split(" ")[0] for output, _error in answers} == set(inputs.values())


async def test_sequence_counted_across_runs_fails_after_its_end(console: Console, runtime: Runtime):
    spec = {"rules": [{"name": "clock", "when": [], "response": {"output": "12:00"}, "scope": "all_runs",
                       "after_end": "fail"}]}  # fmt: skip
    await console.save_handler(agent_id=CLOCK, tool_name="get_current_time", kind="rules", mode="auto", spec=spec)

    first = await console.start(CLOCK)
    assert (await console.wait_for_status(first, "completed", acknowledged=True))[
        "result"
    ] == "The current time in UTC is 12:00."
    second = await console.start(CLOCK)
    run = await console.wait_for_status(second, "completed", acknowledged=True)

    error = "rule 1 (clock) has 1 answer(s) and then fails: this is call 2 across runs"
    assert outputs(runtime, second) == [[(error, True)]]
    assert run["result"] == f"I could not read the clock in UTC: {error}"


async def test_state_set_in_round_one_is_matched_in_round_two(console: Console, runtime: Runtime):
    """get_weather's rule sets the run's state; book_umbrella, another tool of a later round, matches on it and
    its template reads it."""
    weather = {"rules": [{"name": "wet", "when": [], "response": {"output": "rain all day"},
                          "set_state": {"umbrella": "red"}}]}  # fmt: skip
    umbrella = {"rules": [
        {"name": "red", "when": [], "when_state": {"umbrella": "red"},
         "response": {"output": "a {{ state.umbrella }} umbrella for {{ args.city }}"}},
    ], "default": {"output": "no umbrella chosen", "is_error": True}}  # fmt: skip
    await console.save_handler(agent_id=TRIP, tool_name="get_weather", kind="rules", mode="auto", spec=weather)
    await console.save_handler(agent_id=TRIP, tool_name="book_umbrella", kind="rules", mode="auto", spec=umbrella)
    await console.save_handler(agent_id=TRIP, tool_name="search_flights", kind="static", mode="auto",
                               spec={"output": "TP 1351"})  # fmt: skip

    task_id = await console.start(TRIP, {"1": "Porto"})
    run = await console.wait_for_status(task_id, "completed", acknowledged=True)

    assert outputs(runtime, task_id)[1] == [("a red umbrella for Porto", False)]
    assert run["result"].endswith("Booking: a red umbrella for Porto.")
    [_, second] = run["rounds"]
    assert [d["note"] for d in second["drafts"]] == ["rule 1 (red), call 1"]


async def test_handler_test_answers_as_the_given_call_in_the_given_state(console: Console, runtime: Runtime):
    spec = {"rules": [{"name": "login", "when": [], "when_state": {"user": "ada"}, "set_state": {"seen": True},
                       "response": {"output": "A"}, "then": [{"output": "B {{ state.user }} {{ call_count }}"}]}]}  # fmt: skip
    body = {"kind": "rules", "spec": spec, "args": {}, "call_count": 2, "state": {"user": "ada"}}

    response = await console.post("/api/handlers/test", json=body)

    assert response.status_code == 200, response.text
    tried = response.json()
    assert (tried["output"], tried["is_error"], tried["note"]) == ("B ada 2", False, "rule 1 (login), call 2")
    assert (tried["call_count"], tried["state_after"]) == (2, {"user": "ada", "seen": True})
    again = (await console.post("/api/handlers/test", json={**body, "state": {}})).json()
    assert again["is_error"] and again["call_count"] is None  # no rule matched the empty state: nothing counted
    refused = await console.post("/api/handlers/test", json={**body, "call_count": 0})
    assert refused.status_code == 422, refused.text
    too_big = await console.post("/api/handlers/test", json={**body, "state": {f"k{n}": n for n in range(65)}})
    assert too_big.status_code == 422, too_big.text
    assert "the run state to test in: set_state would give the run's state 65 keys (limit 64)" in too_big.text


async def test_counts_across_runs_are_listed_reset_and_forgotten_with_the_handler(console: Console, runtime: Runtime):
    spec = {"rules": [{"name": "clock", "when": [], "response": {"output": "first"}, "then": [{"output": "later"}],
                       "scope": "all_runs", "set_state": {"asked": True}}]}  # fmt: skip
    handler = await console.save_handler(
        agent_id=CLOCK, tool_name="get_current_time", kind="rules", mode="auto", spec=spec
    )
    first = await console.start(CLOCK)
    await console.wait_for_status(first, "completed")

    counts = await console.get(f"/api/handlers/{handler['id']}/counts")
    assert counts.json() == {"handler_id": handler["id"], "counts": {"name:clock": 1}, "reset": 0}
    state = await console.get(f"/api/runs/{first}/state")
    assert state.json() == {"task_id": first, "state": {"asked": True}}
    reset = await console.delete(f"/api/handlers/{handler['id']}/counts")
    assert reset.json()["reset"] == 1
    second = await console.start(CLOCK)
    await console.wait_for_status(second, "completed")
    assert outputs(runtime, second) == [[("first", False)]]  # counted from 1 again after the reset

    assert (await console.delete(f"/api/handlers/{handler['id']}")).status_code == 204
    await console.save_handler(agent_id=CLOCK, tool_name="get_current_time", kind="rules", mode="auto", spec=spec)
    third = await console.start(CLOCK)
    await console.wait_for_status(third, "completed")
    assert outputs(runtime, third) == [[("first", False)]]  # a deleted handler's counts went with it
    missing = await console.get("/api/handlers/99999/counts")
    assert missing.status_code == 404, missing.text


JSON = {"content-type": "application/json"}


def _nested(levels: int, leaf: Any = "x") -> Any:
    value = leaf
    for _ in range(levels):
        value = {"k": value}
    return value


async def test_rules_with_values_too_deep_or_not_unicode_are_422_naming_the_field(console: Console):
    """A set_state, when_state or output nested 300 levels could be saved but not written back: refused, as a lone
    surrogate is (it cannot be written as UTF-8); 110 levels in a rule still save."""
    rule = {"name": "r", "when": [], "response": {"output": "ok"}}
    bad = {
        "spec.set_state": {"rules": [{**rule, "set_state": _nested(300)}]},
        "spec.when_state": {"rules": [{**rule, "when_state": _nested(300)}]},
        "spec.output": {"rules": [{**rule, "response": {"output": _nested(300)}}]},
        "spec.surrogate": {"rules": [{**rule, "set_state": {"k": {"deeper": "X\ud800"}}}]},
    }
    for name, spec in bad.items():
        body = {"agent_id": CLOCK, "tool_name": "get_current_time", "kind": "rules", "spec": spec}
        response = await console.post("/api/handlers", content=json.dumps(body), headers=JSON)
        assert response.status_code == 422, (name, response.text)
        message = response.json()["error"]["message"]
        assert message.startswith("spec: "), (name, message)
        expected = "lone UTF-16 surrogate" if name == "spec.surrogate" else "nests more than 120 levels deep"
        assert expected in message, (name, message)
    assert await console.handlers() == {}
    await console.save_handler(
        agent_id=CLOCK,
        tool_name="get_current_time",
        kind="rules",
        spec={"rules": [{**rule, "set_state": _nested(110)}]},
    )


async def test_handler_test_state_with_lone_surrogate_is_422(console: Console):
    spec = {"rules": [{"name": "r", "when": [], "response": {"output": "ok"}}]}
    for field, value in (("state", {"user": {"name": "X\ud800"}}), ("args", {"a": [float("nan")]})):
        body = {"kind": "rules", "spec": spec, field: value}
        response = await console.post("/api/handlers/test", content=json.dumps(body), headers=JSON)
        assert response.status_code == 422, response.text
        assert response.json()["error"]["message"].startswith(f"{field}: "), response.text


async def test_state_of_an_unknown_run_is_404(console: Console):
    task_id = await console.start(CLOCK)
    assert (await console.get(f"/api/runs/{task_id}/state")).json() == {"task_id": task_id, "state": {}}

    response = await console.get("/api/runs/99999999/state")

    assert response.status_code == 404, response.text
    assert response.json()["error"]["message"] == "no run with task_id 99999999"
