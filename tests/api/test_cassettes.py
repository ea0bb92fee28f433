"""Cassettes: a run recorded, downloaded, imported, played back on new runs (strict and loose), exported as pytest."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from app.db import write_session
from app.models import Cassette
from app.runtime import Runtime
from tests.builders import CLOCK, TRIP, Console

RAIN, FLIGHT, UMBRELLA = "Rain, 8 °C", "SK 4609", "umbrella at arrivals"


async def _recorded_trip(console: Console) -> tuple[int, dict[str, Any]]:
    """A Trip planner run to Bergen answered by hand and recorded: its task_id and the cassette."""
    original = await console.start(TRIP, {"1": "Bergen"})
    await console.answer(await console.pending_round(original, 1), {"get_weather": RAIN, "search_flights": FLIGHT})
    await console.answer(await console.pending_round(original, 2), {"book_umbrella": UMBRELLA})
    await console.wait_for_status(original, "completed")
    response = await console.post("/api/cassettes", json={"task_id": original})
    assert response.status_code == 201, response.text
    return original, response.json()


def _sent(runtime: Runtime, task_id: int) -> list[list[tuple[str, bool]]]:
    """What the platform received for the run: per round, each result's output and is_error."""
    received = runtime.simulator.received  # type: ignore[union-attr]
    return [[(r.output, r.is_error) for r in body.results] for task, body in received if task == task_id]


async def _play(console: Console, cassette_id: int, matching: str, inputs: dict[str, str]) -> dict[str, Any]:
    response = await console.put(
        f"/api/agents/{TRIP}/playback", json={"cassette_id": cassette_id, "matching": matching}
    )
    assert response.status_code == 200, response.text
    task_id = await console.start(TRIP, inputs)
    return await console.wait_for_status(task_id, "completed", acknowledged=True)


async def test_record_run_then_play_back_sends_the_same_results(console: Console, runtime: Runtime):
    original, cassette = await _recorded_trip(console)
    assert (cassette["name"], cassette["entries"]) == (f"trip-planner-run-{original}", 3)
    assert cassette["tools"] == ["book_umbrella", "get_weather", "search_flights"]

    played = await _play(console, cassette["id"], "strict", {"1": "Bergen"})

    assert (
        _sent(runtime, played["task_id"])
        == _sent(runtime, original)
        == [
            [(RAIN, False), (FLIGHT, False)],
            [(UMBRELLA, False)],
        ]
    )
    assert played["result"] == (await console.run(original))["result"]
    assert [r["answered_by"] for r in played["rounds"]] == [f"cassette trip-planner-run-{original}"] * 2
    assert any("plays back this run's tool calls (strict matching)" in e["summary"] for e in played["events"])


async def test_download_then_import_keeps_entries_under_a_free_name(console: Console):
    original, cassette = await _recorded_trip(console)
    download = await console.get(f"/api/cassettes/{cassette['id']}.json")
    assert download.status_code == 200
    assert download.headers["content-disposition"] == f'attachment; filename="trip-planner-run-{original}.json"'
    document = download.json()
    assert document["entries"][0] == {
        "round": 1,
        "tool_name": "get_weather",
        "arguments": {"city": "Bergen"},
        "output": RAIN,
        "is_error": False,
    }

    response = await console.post("/api/cassettes/import", content=download.content, headers=_json)

    assert response.status_code == 201, response.text
    assert (response.json()["name"], response.json()["entries"]) == (f"trip-planner-run-{original}-2", 3)
    assert [c["name"] for c in (await console.get("/api/cassettes")).json()] == [
        f"trip-planner-run-{original}-2",
        f"trip-planner-run-{original}",
    ]


async def test_strict_playback_answers_a_call_with_other_arguments_with_an_error(console: Console, runtime: Runtime):
    _original, cassette = await _recorded_trip(console)

    played = await _play(console, cassette["id"], "strict", {"1": "Bergen", "2": "2026-12-31"})

    [first, second] = _sent(runtime, played["task_id"])
    assert first[0] == (RAIN, False)
    flights, is_error = first[1]
    assert is_error
    assert flights.startswith('no cassette entry for search_flights {"date":"2026-12-31","from":"LHR","to":"Bergen"}')
    assert 'strict playback expected search_flights {"date":"2026-12-24","from":"LHR","to":"Bergen"} next' in flights
    assert second[0][1] is True  # the flights entry is still next, so book_umbrella is unmatched too


async def test_loose_playback_answers_with_the_closest_entry(console: Console, runtime: Runtime):
    _original, cassette = await _recorded_trip(console)

    played = await _play(console, cassette["id"], "loose", {"1": "Bergen", "2": "2026-12-31"})

    assert _sent(runtime, played["task_id"]) == [[(RAIN, False), (FLIGHT, False)], [(UMBRELLA, False)]]
    assert "Flight: SK 4609" in played["result"]


async def test_run_started_with_cassette_is_answered_by_it_without_playback_set(console: Console, runtime: Runtime):
    _original, cassette = await _recorded_trip(console)

    response = await console.post(f"/api/cassettes/{cassette['id']}/runs", json={"string_inputs": {"1": "Bergen"}})

    assert response.status_code == 202, response.text
    played = await console.wait_for_status(response.json()["task_id"], "completed", acknowledged=True)
    assert _sent(runtime, played["task_id"]) == [[(RAIN, False), (FLIGHT, False)], [(UMBRELLA, False)]]
    assert (await console.get(f"/api/agents/{TRIP}/playback")).json() == {"cassette": None}


async def test_playback_off_leaves_new_runs_to_a_person(console: Console):
    _original, cassette = await _recorded_trip(console)
    await console.put(f"/api/agents/{TRIP}/playback", json={"cassette_id": cassette["id"]})

    response = await console.put(f"/api/agents/{TRIP}/playback", json={"cassette_id": None})

    assert response.json() == {"cassette": None}
    task_id = await console.start(TRIP, {"1": "Bergen"})
    pending = await console.pending_round(task_id, 1)
    assert pending["drafts"] == []


async def test_playback_of_an_unknown_agent_is_404(console: Console):
    await console.start(TRIP)  # the platform's agents are listed by now
    for cassette_id in (None, 1):
        response = await console.put("/api/agents/nobody/playback", json={"cassette_id": cassette_id})
        assert response.status_code == 404, response.text
        assert response.json()["error"]["message"].startswith("no agent 'nobody'")
    assert (await console.put(f"/api/agents/{TRIP}/playback", json={"cassette_id": None})).status_code == 200


async def test_record_run_without_answered_round_is_422(console: Console):
    task_id = await console.start(TRIP)
    await console.pending_round(task_id, 1)
    response = await console.post("/api/cassettes", json={"task_id": task_id})
    assert response.status_code == 422
    assert response.json()["error"]["message"] == f"run {task_id} has no answered round yet: answer one, then record it"


async def test_playback_of_another_agents_cassette_is_422(console: Console):
    _original, cassette = await _recorded_trip(console)
    response = await console.put(f"/api/agents/{CLOCK}/playback", json={"cassette_id": cassette["id"]})
    assert response.status_code == 422
    assert f"was recorded for agent {TRIP}, not {CLOCK}" in response.json()["error"]["message"]


_json = {"content-type": "application/json"}
GOOD = {"format": "tooldesk-cassette", "version": 1, "name": "x", "agent_id": TRIP}


async def test_import_bad_files_is_422_naming_the_problem(console: Console):
    bad = {
        b'{"format": "tooldesk-cassette", ': "the file is not JSON: line 1, column 33",
        b'{"format": "tooldesk-config", "version": 1}': 'not a Tooldesk cassette: expected a JSON object with "format"',
        json.dumps({**GOOD, "version": 2}).encode(): "version: 2 is not supported",
        json.dumps({**GOOD, "entries": [{"tool_name": "get_weather"}]}).encode(): "entries[0].output: Field required",
        json.dumps({**GOOD, "entries": []}).encode(): "entries: List should have at least 1 item",
        b"\xff\xfe{}": "the file is not UTF-8 text",
        b" " * 2_000_001: "the file is 2,000,001 bytes (limit 2,000,000)",
    }
    for body, message in bad.items():
        response = await console.post("/api/cassettes/import", content=body, headers=_json)
        assert response.status_code == 422, (message, response.text)
        assert message in response.json()["error"]["message"]
    assert (await console.get("/api/cassettes")).json() == []


async def test_import_makes_the_name_file_safe_for_the_download(console: Console):
    document = {**GOOD, "name": 'a "b"\nc/../d', "entries": [{"tool_name": "t", "output": "o"}]}
    response = await console.post("/api/cassettes/import", json=document)
    assert response.status_code == 201, response.text
    assert response.json()["name"] == "a-b-c-..-d"
    download = await console.get(f"/api/cassettes/{response.json()['id']}.json")
    assert download.headers["content-disposition"] == 'attachment; filename="a-b-c-..-d.json"'


async def test_import_of_a_taken_long_name_stays_readable_everywhere(console: Console):
    for letter, length in (("n", 120), ("m", 119)):
        document = {**GOOD, "name": letter * length, "entries": [{"tool_name": "t", "output": "o"}]}
        first, second = [await console.post("/api/cassettes/import", json=document) for _ in range(2)]
        assert (first.status_code, second.status_code) == (201, 201), second.text
        assert second.json()["name"] == letter * 118 + "-2"
        for path in ("", ".json", "/pytest.py"):
            response = await console.get(f"/api/cassettes/{second.json()['id']}{path}")
            assert response.status_code == 200, (length, path, response.text)
        assert (await console.get(f"/api/cassettes/{second.json()['id']}")).json()["name"] == letter * 118 + "-2"


def _nested(levels: int) -> dict[str, Any]:
    value: dict[str, Any] = {}
    for _ in range(levels - 1):
        value = {"k": value}
    return value


async def test_import_refuses_values_it_could_not_give_back(console: Console):
    entry = {"tool_name": "t", "output": "o"}
    bad = {
        json.dumps({**GOOD, "entries": [{**entry, "arguments": _nested(300)}]}): "nests more than 100 levels deep",
        json.dumps({**GOOD, "entries": [{**entry, "arguments": {"a": "X\ud800"}}]}): "lone UTF-16 surrogate",
        json.dumps({**GOOD, "entries": [{**entry, "arguments": {"a": float("nan")}}]}): "NaN is not a JSON number",
        json.dumps({**GOOD, "entries": [{**entry, "arguments": {"a": 1}}]}).replace(": 1}", ": 1e400}"):
            "Infinity at .a is not a JSON number",
    }  # fmt: skip
    for body, message in bad.items():
        response = await console.post("/api/cassettes/import", content=body.encode(), headers=_json)
        assert response.status_code == 422, (message, response.text)
        assert message in response.json()["error"]["message"], response.text
    assert (await console.get("/api/cassettes")).json() == []
    deep = {**GOOD, "entries": [{**entry, "arguments": _nested(100)}]}
    response = await console.post("/api/cassettes/import", json=deep)
    assert response.status_code == 201, response.text
    assert (await console.get(f"/api/cassettes/{response.json()['id']}")).json()["entries"][0]["arguments"] == deep[
        "entries"
    ][0]["arguments"]


async def test_cassette_stored_before_the_checks_is_422_not_500(console: Console, runtime: Runtime):
    row = Cassette(name="o" * 122, agent_id=TRIP, created_at=0.0, entries=[{"tool_name": "t", "output": "o"}])
    with write_session(runtime.engine) as session:
        session.add(row)
        session.flush()
        cassette_id = row.id

    for path in ("", ".json", "/pytest.py"):
        response = await console.get(f"/api/cassettes/{cassette_id}{path}")
        assert response.status_code == 422, (path, response.text)
        assert f"cassette {cassette_id} cannot be written as a file (name: " in response.json()["error"]["message"]
    assert (await console.delete(f"/api/cassettes/{cassette_id}")).status_code == 204


async def test_delete_cassette_then_get_is_404(console: Console):
    _original, cassette = await _recorded_trip(console)
    assert (await console.delete(f"/api/cassettes/{cassette['id']}")).status_code == 204
    response = await console.get(f"/api/cassettes/{cassette['id']}")
    assert response.status_code == 404
    assert response.json()["error"]["message"] == f"no cassette with id {cassette['id']}"


async def test_exported_pytest_module_runs_with_the_recorded_answers(console: Console, tmp_path: Path):
    _original, cassette = await _recorded_trip(console)
    response = await console.get(f"/api/cassettes/{cassette['id']}/pytest.py")
    assert response.status_code == 200
    module = response.headers["content-disposition"].split('filename="')[1].rstrip('"')
    suite = tmp_path / "suite"
    suite.mkdir()
    (suite / module).write_text(response.text, encoding="utf-8")
    name = module.removesuffix(".py")
    (suite / "conftest.py").write_text(f"from {name} import cassette, loose_cassette  # noqa: F401\n")
    (suite / "test_agent.py").write_text(TEST_WITH_FIXTURES)

    env = {key: value for key, value in os.environ.items() if not key.startswith(("PYTEST", "NICEGUI"))}
    env["PYTEST_DISABLE_PLUGIN_AUTOLOAD"] = "1"
    done = await asyncio.to_thread(
        subprocess.run,
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(suite)],
        cwd=suite,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )

    assert done.returncode == 0, done.stdout + done.stderr
    assert "3 passed" in done.stdout


TEST_WITH_FIXTURES = """
import asyncio


def test_strict_answers_in_order(cassette):
    assert cassette("get_weather", {"city": "Bergen"}) == {"output": "Rain, 8 °C", "is_error": False}
    answer = cassette("book_umbrella", {"city": "Bergen"})
    assert answer["is_error"] and "strict playback expected search_flights" in answer["output"]


def test_loose_answers_the_closest_call(loose_cassette):
    flight = loose_cassette("search_flights", {"from": "LHR", "to": "Bergen", "date": "2027-01-01"})
    assert flight == {"output": "SK 4609", "is_error": False}


def test_tools_in_the_sdk_shape(cassette):
    _model, handler = cassette.tools["get_weather"]
    assert asyncio.run(handler({"city": "Bergen"}, "agent", 1)) == "Rain, 8 °C"
"""
