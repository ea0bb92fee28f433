"""Cases C01–C13 and C16 of shared/cases: each asserts the right value, not just "no crash"."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
import math
import re
import time
from pathlib import Path
from typing import Any

import pytest
from nicegui import ui
from nicegui.testing import User

from app.config import get_settings
from app.runtime import Runtime
from tests.builders import CLOCK, SECRET, WEATHER_COMPARE, Console, encode, make_status, sign, wait_for
from tests.unparsed_agent import NOT_AN_OBJECT, TRUNCATED, unparsed_agent

__all__ = ["unparsed_agent"]  # a fixture the C10 tests use

CASES = Path(__file__).resolve().parents[2] / "fixtures" / "cases"  # copies of shared/cases, byte for byte


def _case(name: str) -> bytes:
    return (CASES / name).read_bytes()


async def test_c01_odd_bytes_accepted_and_stored_byte_for_byte(console: Console):
    body = _case("c01_body.json")
    response = await console.post_webhook(body, sign(body, msg_id="msg_c01"))
    assert response.status_code == 200, response.text
    [listed] = (await console.get("/api/deliveries", params={"task_id": 7001})).json()["deliveries"]
    delivery = (await console.get(f"/api/deliveries/{listed['id']}")).json()
    assert base64.b64decode(delivery["body_base64"]) == body
    assert delivery["verdict"] == "applied"
    [round_] = await console.pending()
    assert round_["tool_calls"][0]["arguments"] == {"name": "Renée Dupré", "note": "café ☕"}


def _raw_signature(body: bytes, msg_id: str, timestamp: int | str) -> str:
    key = base64.b64decode(SECRET.removeprefix("whsec_"))
    digest = hmac.new(key, f"{msg_id}.{timestamp}.".encode() + body, hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode()


@pytest.mark.parametrize(
    ("signature", "body", "expected"),
    [
        ("v1=abc", None, "is not of the form v1,<base64>"),
        ("v1,!!!", None, "not base64"),
        ("", None, "missing or empty header webhook-signature"),
        (None, b"\xff\xfe" + encode(make_status(7002)), "body is not UTF-8"),
    ],
    ids=["v1=abc", "v1,!!!", "empty", "not-utf8"],
)
async def test_c02_malformed_delivery_refused_400_and_stored(
    console: Console, signature: str | None, body: bytes | None, expected: str
):
    body = body or encode(make_status(7002))
    now = int(time.time())
    headers = {
        "webhook-id": "msg_c02",
        "webhook-timestamp": str(now),
        "content-type": "application/json",
        "webhook-signature": signature if signature is not None else _raw_signature(body, "msg_c02", now),
    }
    response = await console.post_webhook(body, headers)
    assert response.status_code == 400
    assert expected in response.json()["error"]["message"]
    [listed] = (await console.get("/api/deliveries")).json()["deliveries"]
    stored = (await console.get(f"/api/deliveries/{listed['id']}")).json()
    assert base64.b64decode(stored["body_base64"]) == body
    assert stored["answered_status"] == 400
    assert expected in stored["message"]
    assert await console.pending() == []


@pytest.mark.parametrize(("offset", "words"), [(301, "s old"), (-301, "s in the future")])
async def test_c03_timestamp_301_s_off_refused_with_offset_and_limit(console: Console, offset: int, words: str):
    body = encode(make_status(7003))
    signed_at = math.ceil(time.time()) if offset < 0 else math.floor(time.time())  # at least 301 s off when sent
    response = await console.post_webhook(body, sign(body, msg_id="msg_c03", timestamp=signed_at - offset))
    assert response.status_code == 400
    message = response.json()["error"]["message"]
    said = re.search(r"is (\d+) s (old|in the future)", message)
    assert said is not None and words in message and "limit 300 s" in message, message
    assert 301 <= int(said.group(1)) <= 306  # a second or more may pass on a busy machine before it is checked
    assert (await console.get("/api/deliveries")).json()["deliveries"][0]["verdict"] == "bad_timestamp"


async def test_c03_timestamp_299_s_old_accepted(console: Console):
    body = encode(make_status(7003))
    response = await console.post_webhook(body, sign(body, msg_id="msg_c03_ok", timestamp=int(time.time()) - 299))
    assert response.status_code == 200


async def test_c04_same_delivery_twice_concurrently_applied_once(console: Console):
    body = encode(make_status(7004))
    headers = sign(body, msg_id="msg_c04")
    first, second = await asyncio.gather(console.post_webhook(body, headers), console.post_webhook(body, headers))
    assert (first.status_code, second.status_code) == (200, 200)
    verdicts = sorted(
        d["verdict"] for d in (await console.get("/api/deliveries", params={"task_id": 7004})).json()["deliveries"]
    )
    assert verdicts == ["applied", "duplicate"]
    run = (await console.get("/api/runs/7004")).json()
    assert [e["kind"] for e in run["events"]].count("state") == 1
    assert len(run["rounds"]) == 1


async def test_c05_late_deliveries_recorded_as_history(console: Console):
    for sequence, status in [(3, "completed"), (2, "awaiting_tool_calls"), (1, "running")]:
        body = encode(make_status(7005, status=status, sequence=sequence, result="done" if sequence == 3 else None))
        assert (await console.post_webhook(body, sign(body, msg_id=f"msg_c05_{sequence}"))).status_code == 200
    run = (await console.get("/api/runs/7005")).json()
    assert run["status"] == "completed"
    assert run["result"] == "done"
    verdicts = {
        d["sequence"]: d["verdict"]
        for d in (await console.get("/api/deliveries", params={"task_id": 7005})).json()["deliveries"]
    }
    assert verdicts == {3: "applied", 2: "history", 1: "history"}
    assert await console.pending() == []


async def test_c06_partial_results_refused_naming_missing_call(console: Console, runtime: Runtime):
    body = _case("c06_two_calls.json")
    assert (await console.post_webhook(body, sign(body, msg_id="msg_c06"))).status_code == 200
    [round_] = await console.pending()
    response = await console.post(
        f"/api/rounds/{round_['id']}/responses", json={"results": [{"tool_call_id": "call_a", "output": "12:00"}]}
    )
    assert response.status_code == 422
    assert "no result for call_b" in response.json()["error"]["message"]
    assert runtime.simulator is not None and runtime.simulator.received == []
    assert (await console.pending())[0]["state"] == "pending"


async def test_c06_partial_results_refused_in_inbox(user: User, console: Console, runtime: Runtime):
    body = _case("c06_two_calls.json")
    assert (await console.post_webhook(body, sign(body, msg_id="msg_c06_ui"))).status_code == 200
    [round_] = await console.pending()
    await user.open("/")
    await user.should_see(marker="result-call_a")
    user.find(marker="result-call_a").type("12:00")
    user.find(marker=f"submit-{round_['id']}").click()
    await user.should_see("call_b (get_weather) has no result")
    assert runtime.simulator is not None and runtime.simulator.received == []


async def test_c07_same_tool_twice_each_result_to_its_own_call(user: User, console: Console, runtime: Runtime):
    await user.open("/")
    task_id = await console.start(WEATHER_COMPARE, {"1": "Oslo", "2": "Nairobi"})
    await user.should_see(f"run {task_id} · round 1")
    [round_] = await console.pending()
    ids = {call["arguments"]["city"]: call["tool_call_id"] for call in round_["tool_calls"]}
    assert set(ids) == {"Oslo", "Nairobi"} and len(set(ids.values())) == 2
    await user.should_see(ids["Oslo"])
    await user.should_see(ids["Nairobi"])
    user.find(marker=f"result-{ids['Nairobi']}").type("hot, 31 °C")
    user.find(marker=f"result-{ids['Oslo']}").type("snow, -4 °C")
    user.find(marker=f"submit-{round_['id']}").click()
    await user.should_see(f"Round 1 of run {task_id} sent", retries=50)  # the platform answers first
    assert runtime.simulator is not None
    [(_, sent)] = runtime.simulator.received
    assert {r.tool_call_id: r.output for r in sent.results} == {
        ids["Oslo"]: "snow, -4 °C",
        ids["Nairobi"]: "hot, 31 °C",
    }

    async def result() -> str | None:
        return (await console.get(f"/api/runs/{task_id}")).json()["result"]

    assert await wait_for(result) == "Oslo: snow, -4 °C | Nairobi: hot, 31 °C"


async def test_c07_delivered_body_shows_calls_apart(user: User, console: Console):
    body = _case("c07_same_tool_twice.json")
    assert (await console.post_webhook(body, sign(body, msg_id="msg_c07"))).status_code == 200
    await user.open("/")
    await user.should_see(marker="call-call_w1")
    await user.should_see(marker="call-call_w2")
    [round_] = await console.pending()
    assert [(c["tool_call_id"], c["arguments"]) for c in round_["tool_calls"]] == [
        ("call_w1", {"city": "Oslo"}),
        ("call_w2", {"city": "Nairobi"}),
    ]


async def test_c08_string_arguments_parsed_and_shown_as_json(user: User, console: Console):
    body = _case("c08_string_args.json")
    assert (await console.post_webhook(body, sign(body, msg_id="msg_c08"))).status_code == 200
    [round_] = await console.pending()
    expected = {"from": "LIS", "to": "OSL", "date": "2026-12-24"}
    assert round_["tool_calls"][0]["arguments"] == expected
    await user.open("/")
    await user.should_see(marker="arguments-call_s1")
    code = user.find(marker="arguments-call_s1").elements.pop()
    assert isinstance(code, ui.label)
    assert json.loads(code.text) == expected
    assert '\\"' not in code.text


@pytest.mark.parametrize(
    ("arguments", "reason"),
    [(TRUNCATED, "not valid JSON: Unterminated string"), (NOT_AN_OBJECT, "valid JSON but not an object")],
    ids=["truncated", "null-string"],
)
async def test_c10_unparsable_arguments_stored_pending_card_shows_text_and_reason(
    user: User, console: Console, arguments: str, reason: str
):
    """The signed delivery is applied (never a refused status), the round is pending, and the card and the run
    page show the text as sent with why it does not parse."""
    body = make_status(7100, tool_calls=[{"id": "call_c10", "name": "get_weather", "arguments": arguments}])
    await console.deliver(body, "msg_c10")
    [delivery] = (await console.get("/api/deliveries", params={"task_id": 7100})).json()["deliveries"]
    assert delivery["verdict"] == "applied"
    [round_] = await console.pending()
    [call] = round_["tool_calls"]
    assert call["arguments_text"] == arguments and call["arguments_problem"].startswith(reason)
    for page in ("/", "/runs/7100"):
        await user.open(page)
        await user.should_see(marker="arguments-problem-call_c10")
        await user.should_see(f"The arguments are {reason}")
        code = user.find(marker="arguments-call_c10").elements.pop()
        assert isinstance(code, ui.label) and code.text == arguments


async def test_c10_person_answers_unparsable_round_with_is_error_in_inbox(
    unparsed_agent: str, user: User, console: Console, runtime: Runtime
):
    await user.open("/")
    task_id = await console.start(unparsed_agent)
    round_ = await console.pending_round(task_id)
    await user.should_see(f"run {task_id} · round 1")
    for call in round_["tool_calls"]:
        user.find(marker=f"result-{call['tool_call_id']}").type("the arguments did not parse")
        user.find(marker=f"is-error-{call['tool_call_id']}").click()
    user.find(marker=f"submit-{round_['id']}").click()
    await user.should_see(f"Round 1 of run {task_id} sent", retries=50)
    assert runtime.simulator is not None
    [(_, sent)] = runtime.simulator.received
    assert [(r.output, r.is_error) for r in sent.results] == [("the arguments did not parse", True)] * 2
    await console.wait_for_status(task_id, "completed")


BIG_TASK_IDS = [2**53 + 1, 2**63 - 1]
"""Case C11: 9007199254740993 is the first integer a JS number cannot hold (it reads 9007199254740992);
9223372036854775807 is the largest SQLite INTEGER."""


def _unsafe_numbers(value: Any) -> list[int]:
    """Integers in ``value`` that a browser's JSON.parse would round (beyond 2**53): what must never be sent."""
    if isinstance(value, dict):
        return [n for item in value.values() for n in _unsafe_numbers(item)]
    if isinstance(value, list | tuple):
        return [n for item in value for n in _unsafe_numbers(item)]
    return [value] if isinstance(value, int) and not isinstance(value, bool) and abs(value) > 2**53 else []


@pytest.mark.parametrize("task_id", BIG_TASK_IDS, ids=["2^53+1", "2^63-1"])
async def test_c11_runs_table_row_click_opens_exactly_that_task_id(user: User, console: Console, task_id: int):
    await console.deliver(make_status(task_id - 1, sequence=2), "msg_c11_neighbour")  # the run a rounded id opens
    await console.deliver(make_status(task_id), "msg_c11")
    await user.open("/runs")
    await user.should_see("2 run(s)")
    [table] = user.find(marker="runs-table").elements
    assert isinstance(table, ui.table) and _unsafe_numbers(table.rows) == []
    [row] = [row for row in table.rows if row["task_id"] == str(task_id)]
    user.find(marker="runs-table").trigger("rowClick", [{}, json.loads(json.dumps(row))])
    await user.should_see(f"Run {task_id}")
    await user.should_see(marker="run-status")
    assert f"Run {task_id - 1}" not in [e.text for e in user.find(ui.label).elements]


@pytest.mark.parametrize("task_id", BIG_TASK_IDS, ids=["2^53+1", "2^63-1"])
async def test_c11_inbox_compare_and_deliveries_show_exact_task_id(user: User, console: Console, task_id: int):
    await console.deliver(make_status(task_id), "msg_c11")
    assert (await console.run(task_id))["task_id"] == task_id  # the JSON API: an exact integer
    await user.open("/")
    await user.should_see(f"run {task_id} · round 1")
    assert f"/runs/{task_id}" in [link.props["href"] for link in user.find(ui.link).elements]
    await user.open(f"/compare?a={task_id}&b={task_id}")
    await user.should_see(marker="compare-header-a")
    links = [link.props["href"] for link in user.find(ui.link).elements]
    assert links.count(f"/runs/{task_id}") == 2
    await user.open("/deliveries")
    await user.should_see(marker="deliveries-table")
    [table] = user.find(marker="deliveries-table").elements
    assert isinstance(table, ui.table)
    rows = await wait_for(lambda: table.rows)
    assert _unsafe_numbers(rows) == [] and [row["task_id"] for row in rows] == [str(task_id)]


@pytest.mark.parametrize(
    "args", [[{}, {"task_id": 2**53 + 1}], [{}, "9007199254740993"], [{}], [{}, {"task_id": "2²"}]], ids=repr
)
async def test_c11_row_click_with_id_not_sent_as_text_refused(user: User, console: Console, args: Any):
    """The browser only ever gets task_ids as text: a JS number (maybe already rounded) or any other shape coming
    back is refused with a message, never opened and never a traceback."""
    await console.deliver(make_status(2**53 + 1), "msg_c11_click")
    await user.open("/runs")
    await user.should_see("1 run(s)")
    user.find(marker="runs-table").trigger("rowClick", args)
    await user.should_see("That row has no task_id the console can open")


async def test_c11_task_id_beyond_int64_refused_400_naming_the_limit(console: Console):
    body = encode(make_status(2**63))
    response = await console.post_webhook(body, sign(body, msg_id="msg_c11_huge"))
    assert response.status_code == 400
    message = response.json()["error"]["message"]
    assert "task_id" in message and "9223372036854775807" in message


async def test_refused_delivery_stays_off_its_runs_timeline_and_is_listed_as_a_claim(console: Console):
    """An unsigned request naming a run must not write on that run's timeline (anyone could add lines to any
    run); it is listed on the Deliveries page under the task_id it claims, marked as an unverified claim."""
    good = encode(make_status(7009))
    assert (await console.post_webhook(good, sign(good, msg_id="msg_ok"))).status_code == 200
    before = (await console.get("/api/runs/7009")).json()["events"]
    later = encode(make_status(7009, status="completed", sequence=9, result="x"))
    forged = sign(later, msg_id="msg_forged") | {"webhook-signature": "v1,AAAA"}
    assert (await console.post_webhook(later, forged)).status_code == 401
    run = (await console.get("/api/runs/7009")).json()
    assert run["status"] == "awaiting_tool_calls"
    assert run["events"] == before
    listed = (await console.get("/api/deliveries", params={"task_id": 7009})).json()["deliveries"]
    assert [(d["verdict"], d["task_id_claimed"]) for d in listed] == [("bad_signature", True), ("applied", False)]


@pytest.mark.parametrize(
    "shape",
    ["{now}.5", "0{now}", "+{now}", "{mantissa}e9", "1764500000.5", "01764500000", "+1764500000", "1.7645e9"],
    ids=["fraction", "leading-zero", "plus-sign", "exponent", "case-fraction", "case-zero", "case-plus", "case-exp"],
)
async def test_c09_timestamp_not_integer_seconds_refused_400_not_401(console: Console, shape: str):
    now = int(time.time())
    timestamp = shape.format(now=now, mantissa=now / 1e9)
    body = encode(make_status(7010))
    headers = sign(body, msg_id=f"msg_c09_{shape}") | {"webhook-timestamp": timestamp}
    headers["webhook-signature"] = _raw_signature(body, headers["webhook-id"], timestamp)
    response = await console.post_webhook(body, headers)
    assert response.status_code == 400, response.text
    assert "is not integer Unix seconds" in response.json()["error"]["message"]
    stored = [
        d
        for d in (await console.get("/api/deliveries")).json()["deliveries"]
        if d["webhook_id"] == headers["webhook-id"]
    ]
    assert [d["verdict"] for d in stored] == ["bad_timestamp"]


async def _refused_delivery(console: Console, task_id: int) -> dict[str, Any]:
    forged = encode(make_status(task_id, status="completed", sequence=9, result="forged"))
    other_key = "whsec_" + base64.b64encode(b"k" * 32).decode()
    response = await console.post_webhook(forged, sign(forged, msg_id=f"msg_c16_{task_id}", secret=other_key))
    assert response.status_code == 401
    [stored] = (await console.get("/api/deliveries", params={"verdict": "bad_signature"})).json()["deliveries"]
    return stored


@pytest.mark.parametrize("edit", [{}, {"body": make_status(7016, status="completed", sequence=9, result="forged")}])
async def test_c16_replay_of_refused_delivery_refused(console: Console, edit: dict[str, Any]):
    stored = await _refused_delivery(console, 7016)
    response = await console.post(f"/api/deliveries/{stored['id']}/replay", json=edit)
    assert response.status_code == 409, response.text
    assert response.json()["error"]["code"] == "replay_refused"
    assert "bad_signature" in response.json()["error"]["message"]
    assert (await console.get("/api/runs/7016")).status_code == 404
    assert len((await console.get("/api/deliveries")).json()["deliveries"]) == 1


async def test_c16_replay_keeps_no_console_signature(console: Console):
    body = encode(make_status(7017, status="running", sequence=1, round=None))
    assert (await console.post_webhook(body, sign(body, msg_id="msg_c16_ok"))).status_code == 200
    [original] = (await console.get("/api/deliveries", params={"task_id": 7017})).json()["deliveries"]
    replayed = (await console.post(f"/api/deliveries/{original['id']}/replay", json={})).json()
    stored = (await console.get(f"/api/deliveries/{replayed['delivery_id']}")).json()
    assert not stored["headers"]["webhook-signature"].startswith("v1,")


async def test_c16_deliveries_page_disables_replay_of_refused(user: User, console: Console):
    stored = await _refused_delivery(console, 7018)
    await user.open("/deliveries")
    await user.should_see(marker="deliveries-table")
    user.find(marker="deliveries-table").trigger("rowClick", [{}, {"id": str(stored["id"])}])
    await user.should_see(marker="replay-refused")
    for marker in ("replay", "replay-edited"):
        [button] = user.find(marker=marker).elements
        assert isinstance(button, ui.button) and not button.enabled


C12_TEMPLATE = '{% set s = "x" * 40000 %}{% for a in s %}{% for b in s %}{% endfor %}{% endfor %}done'


@pytest.fixture
def short_template_timeout(monkeypatch: pytest.MonkeyPatch) -> None:
    """Rules handlers get 0.5 s a call (set before the console starts, which reads the settings once)."""
    monkeypatch.setenv("TOOLDESK_TEMPLATE_TIMEOUT", "0.5")
    monkeypatch.setenv("TOOLDESK_TEMPLATE_WORKERS", "2")
    get_settings.cache_clear()


async def test_c12_looping_template_each_round_stopped_webhooks_answered_meanwhile(
    short_template_timeout: None, console: Console, runtime: Runtime
):
    """A template looping 1.6 billion times, in auto mode, with 8 rounds arriving: every render is cut off with an
    error result naming the limit, and deliveries are stored while renders are still running (8 renders of 0.5 s
    on 2 workers take at least 2 s)."""
    await console.save_handler(
        agent_id=CLOCK,
        tool_name="get_current_time",
        kind="rules",
        mode="auto",
        spec={"default": {"output": C12_TEMPLATE}},
    )
    assert runtime.simulator is not None
    for _ in range(8):
        await console.start(CLOCK)
    await wait_for(console.pending)  # renders have begun
    for number in range(3):
        body = encode(make_status(7120 + number, status="running", sequence=1, round=None))
        async with asyncio.timeout(10):  # without the bound the answer waits for a render that never ends
            response = await console.post_webhook(body, sign(body, msg_id=f"msg_c12_{number}"))
        assert response.status_code == 200, response.text
    assert len(runtime.simulator.received) < 8  # stored before the renders finished
    await wait_for(lambda: len(runtime.simulator.received) == 8, within=30)
    results = [body.results[0] for _, body in runtime.simulator.received]
    assert all(r.is_error and r.output.startswith("template render stopped after 0.5 s") for r in results)
    assert all("limit TOOLDESK_TEMPLATE_TIMEOUT" in r.output for r in results)


@pytest.mark.parametrize(
    ("first", "then"),
    [(0, False), (1, True), (1.0, 1), ({"ok": 1}, {"ok": True})],
    ids=["0-then-false", "1-then-true", "1.0-then-1", "ok-1-then-ok-true"],
)
async def test_c13_static_output_change_python_calls_equal_takes_effect(
    console: Console, runtime: Runtime, first: Any, then: Any
):
    """Python says ``0 == False`` and ``1 == 1.0``; JSON does not. Each save is a new version, the live handler
    has the new output, and the next call is answered with it (as the platform receives it)."""
    assert runtime.simulator is not None
    for number, output in enumerate((first, then), start=1):
        saved = await console.save_handler(
            agent_id=CLOCK, tool_name="get_current_time", kind="static", mode="auto", spec={"output": output}
        )
        assert saved["version"] == number
        live = (await console.handlers())["get_current_time"]
        versions = (await console.get(f"/api/handlers/{live['id']}/versions")).json()
        assert json.dumps(live["spec"]["output"]) == json.dumps(versions[0]["spec"]["output"]) == json.dumps(output)
        task_id = await console.start(CLOCK)
        await console.wait_for_status(task_id, "completed")
        [sent] = [body for task, body in runtime.simulator.received if task == task_id]
        assert sent.results[0].output == json.dumps(output)
