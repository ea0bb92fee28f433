"""Handlers answer real rounds from the simulator: the test starts a run and reads what the platform received."""

from __future__ import annotations

import json

import httpx
import pytest

from app.runtime import Runtime
from tests.builders import CLOCK, TRIP, Console


async def test_static_auto_handler_answers_round(console: Console, runtime: Runtime):
    await console.save_handler(
        agent_id=CLOCK, tool_name="get_current_time", kind="static", mode="auto", spec={"output": "12:00 UTC"}
    )
    task_id = await console.start(CLOCK)
    run = await console.wait_for_status(task_id, "completed", acknowledged=True)
    assert run["result"] == "The current time in UTC is 12:00 UTC."
    assert runtime.simulator is not None
    assert [body.results[0].output for _, body in runtime.simulator.received] == ["12:00 UTC"]
    assert run["rounds"][0]["answered_by"] == "handlers (auto)"
    assert run["rounds"][0]["results"][0]["answered_by"] == "static handler v1"


async def test_rules_auto_handlers_drive_trip_planner_branch(console: Console, runtime: Runtime):
    weather = {
        "rules": [
            {
                "name": "wet",
                "when": [{"kind": "regex", "path": "city", "value": "^Berg"}],
                "response": {"output": "Rain in {{ args.city }}"},
            }
        ],
        "default": {"output": "Sunny in {{ args.city }}"},
    }
    await console.save_handler(agent_id=TRIP, tool_name="get_weather", kind="rules", mode="auto", spec=weather)
    await console.save_handler(
        agent_id=TRIP,
        tool_name="search_flights",
        kind="static",
        mode="auto",
        spec={"output": {"flight": "SK 4609"}},
    )
    await console.save_handler(
        agent_id=TRIP,
        tool_name="book_umbrella",
        kind="rules",
        mode="auto",
        spec={"rules": [], "default": {"output": "umbrella for {{ args.city }} after: {{ results.get_weather }}"}},
    )
    task_id = await console.start(TRIP, {"1": "Bergen"})
    run = await console.wait_for_status(task_id, "completed", acknowledged=True)
    assert [call["name"] for r in run["rounds"] for call in r["tool_calls"]] == [
        "get_weather",
        "search_flights",
        "book_umbrella",
    ]
    assert "Weather: Rain in Bergen" in run["result"]
    assert 'Flight: {"flight": "SK 4609"}' in run["result"]
    assert "Booking: umbrella for Bergen after: Rain in Bergen" in run["result"]


async def test_templates_read_results_of_a_submission_not_acknowledged_yet(console: Console, runtime: Runtime):
    """The platform may open the next round before the console has stored the answer to the previous submission
    (the simulator goes on as soon as it has accepted them): ``results`` holds that submission's results all the same, after
    the acknowledged ones, and once acknowledged they are read from the tool results."""
    import time

    from app.answerers import AUTO
    from app.db import write_session
    from app.models import OutboxItem, Round, Run, ToolCallRow, ToolResultRow
    from app.services import responder_store
    from app.states import OutboxState, RoundState

    now = time.time()
    with write_session(runtime.engine) as session:
        session.add(Run(task_id=4101, agent_id=TRIP, status="running", created_at=now, updated_at=now))
        items = []
        for number, (name, output) in enumerate([("get_weather", "Rain"), ("search_flights", "SK 4609")], start=1):
            row = Round(task_id=4101, agent_id=TRIP, round=number, state=RoundState.SUBMITTING, opened_at=now)
            session.add(row)
            session.flush()
            assert row.id is not None
            session.add(ToolCallRow(round_id=row.id, tool_call_id=f"call_{number}", name=name, position=0))
            item = OutboxItem(
                round_id=row.id,
                task_id=4101,
                agent_id=TRIP,
                body={"results": [{"tool_call_id": f"call_{number}", "output": output}]},
                idempotency_key=f"key-4101-{number}",
                **AUTO.columns(),
                sources={},
                next_attempt_at=now,
                created_at=now,
            )
            session.add(item)
            items.append((row.id, item))
        first_round, first_item = items[0]
        first_item.state = OutboxState.SENT  # round 1 acknowledged, with its result stored; round 2 not yet
        session.add(ToolResultRow(**AUTO.columns(), round_id=first_round, tool_call_id="call_1", output="Sunny",
                                  is_error=False, created_at=now))  # fmt: skip

    assert responder_store.task_results(runtime.engine, 4101) == {"get_weather": "Sunny", "search_flights": "SK 4609"}


async def test_python_auto_handler_answers_round(console: Console, runtime: Runtime):
    code = "async def handle(args, agent_id, task_id):\n    return {'time': 'noon', 'tz': args['timezone']}\n"
    await console.save_handler(
        agent_id=CLOCK, tool_name="get_current_time", kind="python", mode="auto", spec={"code": code}
    )
    task_id = await console.start(CLOCK, {"1": "Asia/Tokyo"})
    run = await console.wait_for_status(task_id, "completed", acknowledged=True)
    assert run["result"] == 'The current time in Asia/Tokyo is {"time": "noon", "tz": "Asia/Tokyo"}.'


async def test_suggest_handler_prefills_and_waits_for_person(console: Console, runtime: Runtime):
    await console.save_handler(
        agent_id=CLOCK,
        tool_name="get_current_time",
        kind="static",
        mode="suggest",
        spec={"output": "about noon"},
    )
    task_id = await console.start(CLOCK)
    round_ = await console.pending_round(task_id, drafted=True)
    assert [(d["mode"], d["output"]) for d in round_["drafts"]] == [("suggest", "about noon")]
    assert runtime.simulator is not None and runtime.simulator.received == []


async def test_mixed_round_waits_for_manual_call_only(console: Console, runtime: Runtime):
    await console.save_handler(
        agent_id=TRIP, tool_name="get_weather", kind="static", mode="auto", spec={"output": "Dry"}
    )
    task_id = await console.start(TRIP)
    round_ = await console.pending_round(task_id, drafted=True)
    assert runtime.simulator is not None and runtime.simulator.received == []
    calls = {c["name"]: c["tool_call_id"] for c in round_["tool_calls"]}
    await console.answer(round_, {"get_weather": "Dry", "search_flights": "TP 1351"})
    [(_, sent)] = runtime.simulator.received
    assert {r.tool_call_id: r.output for r in sent.results} == {
        calls["get_weather"]: "Dry",
        calls["search_flights"]: "TP 1351",
    }


@pytest.mark.parametrize(
    ("handler", "words"),
    [
        ({"kind": "rules", "spec": {"rules": [{"when": [{"kind": "regex", "path": "city", "value": "("}]}]}}, "rule 1"),
        ({"kind": "python", "spec": {"code": "async def handle(args, agent_id, task_id):\n    return (\n"}}, "line"),
        ({"kind": "python", "spec": {"code": "x = 1\n"}}, "handle"),
        ({"kind": "static", "spec": {"output": "x", "colour": "red"}}, "colour"),
        ({"kind": "static", "spec": {}, "behaviour": {"fail_probability": 2}}, "fail_probability"),
    ],
    ids=["bad-regex", "python-syntax", "python-no-handle", "static-unknown-field", "bad-probability"],
)
async def test_save_handler_invalid_refused_422_naming_problem(console: Console, handler: dict, words: str):
    response = await console.post("/api/handlers", json={"agent_id": CLOCK, "tool_name": "get_current_time", **handler})
    assert response.status_code == 422, response.text
    assert words in response.json()["error"]["message"]


async def test_versions_kept_and_restorable(console: Console):
    first = await console.save_handler(
        agent_id=CLOCK, tool_name="get_current_time", kind="static", spec={"output": "one"}
    )
    await console.save_handler(agent_id=CLOCK, tool_name="get_current_time", kind="static", spec={"output": "two"})
    versions = (await console.get(f"/api/handlers/{first['id']}/versions")).json()
    assert [(v["version"], v["spec"]["output"]) for v in versions] == [(2, "two"), (1, "one")]
    restored = (await console.post(f"/api/handlers/{first['id']}/versions/1/restore", json={})).json()
    assert (restored["version"], restored["spec"]["output"]) == (3, "one")


async def test_mode_switch_and_delete(console: Console):
    saved = await console.save_handler(
        agent_id=CLOCK, tool_name="get_current_time", kind="static", spec={"output": "x"}
    )
    moved = (await console.put(f"/api/handlers/{saved['id']}/mode", json={"mode": "auto"})).json()
    assert (moved["mode"], moved["version"]) == ("auto", 2)
    assert (await console.delete(f"/api/handlers/{saved['id']}")).status_code == 204
    assert (await console.get(f"/api/handlers/{saved['id']}")).status_code == 404


async def test_test_endpoint_runs_rules_on_sample_args(console: Console):
    spec = {
        "rules": [
            {
                "when": [{"kind": "equals", "path": "city", "value": "Oslo"}],
                "response": {"output": "cold in {{ args.city }}"},
            }
        ]
    }
    response = await console.post("/api/handlers/test", json={"kind": "rules", "spec": spec, "args": {"city": "Oslo"}})
    assert response.status_code == 200, response.text
    assert (response.json()["output"], response.json()["is_error"]) == ("cold in Oslo", False)
    miss = (
        await console.post("/api/handlers/test", json={"kind": "rules", "spec": spec, "args": {"city": "Rome"}})
    ).json()
    assert miss["is_error"] and "expected 'Oslo', got 'Rome'" in miss["output"]


async def test_save_answer_as_rule_then_next_run_suggested(console: Console, runtime: Runtime):
    task_id = await console.start(CLOCK, {"1": "Europe/Oslo"})
    round_ = await console.pending_round(task_id)
    call_id = round_["tool_calls"][0]["tool_call_id"]
    answer = "{{ not a template }} 18:00"
    await console.answer(round_, {"get_current_time": answer})
    saved = await console.post(f"/api/rounds/{round_['id']}/calls/{call_id}/rule", json={})
    assert saved.status_code == 200, saved.text
    assert (saved.json()["kind"], saved.json()["mode"]) == ("rules", "suggest")

    again = await console.start(CLOCK, {"1": "Europe/Oslo"})
    next_round = await console.pending_round(again, drafted=True)
    assert next_round["drafts"][0]["output"] == answer


async def test_save_as_rule_refused_for_python_handler(console: Console):
    await console.save_handler(
        agent_id=CLOCK,
        tool_name="get_current_time",
        kind="python",
        mode="manual",
        spec={"code": "def handle(args, agent_id, task_id):\n    return 'x'\n"},
    )
    task_id = await console.start(CLOCK)
    round_ = await console.pending_round(task_id)
    call_id = round_["tool_calls"][0]["tool_call_id"]
    await console.answer(round_, {"get_current_time": "x"})
    refused = await console.post(f"/api/rounds/{round_['id']}/calls/{call_id}/rule", json={})
    assert refused.status_code == 422
    assert "python handler" in refused.json()["error"]["message"]


@pytest.fixture
def short_sandbox(monkeypatch: pytest.MonkeyPatch) -> None:
    """A 1 s sandbox limit, set before the console starts."""
    from app.config import get_settings

    monkeypatch.setenv("TOOLDESK_SANDBOX_TIMEOUT", "1")
    get_settings.cache_clear()


async def test_python_infinite_loop_times_out_while_console_serves(
    short_sandbox: None, console: Console, runtime: Runtime
):
    import time

    code = "def handle(args, agent_id, task_id):\n    while True:\n        pass\n"
    await console.save_handler(
        agent_id=CLOCK, tool_name="get_current_time", kind="python", mode="auto", spec={"code": code}
    )
    task_id = await console.start(CLOCK)
    answered_while_spinning = 0
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        run = (await console.get(f"/api/runs/{task_id}")).json()
        if run["status"] == "completed":
            break
        answered_while_spinning += 1
    assert run["status"] == "completed"
    [result] = run["rounds"][0]["results"]
    assert result["is_error"] and "timed out after 1 s" in result["output"]
    assert answered_while_spinning > 0  # the API kept answering while the handler spun (speed: bench/)


async def test_save_same_settings_again_makes_no_new_version(console: Console):
    first = await console.save_handler(
        agent_id=CLOCK, tool_name="get_current_time", kind="static", spec={"output": "x"}
    )
    again = await console.save_handler(
        agent_id=CLOCK, tool_name="get_current_time", kind="static", spec={"output": "x"}
    )
    assert (first["version"], again["version"]) == (1, 1)
    assert len((await console.get(f"/api/handlers/{first['id']}/versions")).json()) == 1


async def _save(console: Console, kind: str, spec: dict) -> httpx.Response:
    return await console.post(
        "/api/handlers", json={"agent_id": CLOCK, "tool_name": "get_current_time", "kind": kind, "spec": spec}
    )


async def test_save_rules_deeply_nested_regex_refused_422(console: Console):
    """``re.compile`` of 500 nested groups raises RecursionError; ``_compile_text`` catches only ``re.error``."""
    spec = {"rules": [{"when": [{"kind": "regex", "path": "city", "value": "(" * 500 + ")" * 500}]}]}
    response = await _save(console, "rules", spec)
    assert response.status_code == 422, response.text


async def test_save_rules_deeply_nested_jmespath_refused_422(console: Console):
    """``jmespath.compile`` of a deeply nested expression raises RecursionError, not a JMESPathError."""
    spec = {"rules": [{"when": [{"kind": "jmespath", "value": "!" * 5000 + "a"}]}]}
    response = await _save(console, "rules", spec)
    assert response.status_code == 422, response.text


async def test_save_rules_deeply_nested_template_refused_422(console: Console):
    """``check_template`` catches only ``TemplateSyntaxError``; Jinja's parser hits RecursionError first."""
    spec = {"rules": [], "default": {"output": "{{ " + "(" * 3000 + "1" + ")" * 3000 + " }}"}}
    response = await _save(console, "rules", spec)
    assert response.status_code == 422, response.text


async def test_save_python_deeply_nested_expression_refused_422(console: Console):
    """``check_snippet`` catches SyntaxError and ValueError; CPython's parser raises MemoryError (or
    RecursionError) for an expression nested this deep."""
    code = "def handle(args, agent_id, task_id):\n    return " + "-" * 100_000 + "1\n"
    response = await _save(console, "python", {"code": code})
    assert response.status_code == 422, response.text


async def test_test_handler_deeply_nested_regex_refused_422(console: Console):
    """The Test endpoint runs the same validation and fails the same way (500)."""
    spec = {"rules": [{"when": [{"kind": "regex", "path": "city", "value": "(" * 500 + ")" * 500}]}]}
    response = await console.post("/api/handlers/test", json={"kind": "rules", "spec": spec, "args": {"city": "x"}})
    assert response.status_code == 422, response.text


async def test_import_config_deeply_nested_regex_refused_422(console: Console):
    """Import checks handlers with ``_check_handlers``, which catches only ValidationError and HandlerInvalid."""
    document = {
        "format": "tooldesk-config",
        "version": 1,
        "handlers": [
            {
                "agent_id": CLOCK,
                "tool_name": "get_current_time",
                "kind": "rules",
                "spec": {"rules": [{"when": [{"kind": "regex", "path": "city", "value": "(" * 500 + ")" * 500}]}]},
            }
        ],
    }
    response = await console.post("/api/config", json=document)
    assert response.status_code == 422, response.text


async def test_save_static_nan_output_refused_422(console: Console):
    """``NaN`` is accepted (pydantic's JSON parser allows it), stored, echoed back as ``null``, and answered as
    the text ``NaN``: not JSON, though the README says a JSON value is sent JSON-encoded."""
    body = json.dumps(
        {"agent_id": CLOCK, "tool_name": "get_current_time", "kind": "static", "spec": {"output": "@"}}
    ).replace('"@"', "NaN")
    response = await console.post("/api/handlers", content=body, headers={"content-type": "application/json"})
    assert response.status_code == 422, response.text
