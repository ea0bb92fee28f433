"""The simulator's faults: duplicated, reordered, delayed and dropped webhook deliveries, 503 answers, an
outage that refuses connections, and the stats that count what the platform applied."""

from __future__ import annotations

import asyncio
import base64
import socket
from collections.abc import AsyncIterator, Callable
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from standardwebhooks import Webhook

from app.simulator import DEFAULT_SCENARIOS_DIR, Simulator, build_router, load_scenarios
from app.simulator.__main__ import main
from app.simulator.gate import Gate

SECRET = "whsec_" + base64.b64encode(b"tooldesk-simulator-faults-secret").decode()
API_KEY = "sim-faults-key"
CLOCK = {s.name: s.agent_id for s in load_scenarios(DEFAULT_SCENARIOS_DIR)}["Clock"]


class Receiver:
    """Plays the console's webhook route: verifies each delivery and records (webhook-id, sequence)."""

    def __init__(self) -> None:
        self.got: list[tuple[str, int]] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        payload = Webhook(SECRET).verify(request.content, dict(request.headers))
        self.got.append((request.headers["webhook-id"], payload["sequence"]))
        return httpx.Response(204)


@pytest.fixture
async def rig() -> AsyncIterator[tuple[Simulator, httpx.AsyncClient, Receiver]]:
    receiver = Receiver()
    simulator = Simulator(
        scenarios=load_scenarios(DEFAULT_SCENARIOS_DIR), webhook_url="http://console.test/webhooks/sudoiq",
        secret=SECRET, api_key=API_KEY, http=httpx.AsyncClient(transport=httpx.MockTransport(receiver)),
        retry_schedule=(0.001, 0.001), step_delay=0,
    )  # fmt: skip
    app = FastAPI()
    app.include_router(build_router(simulator))
    auth = {"Authorization": f"Bearer {API_KEY}"}
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app), base_url="http://sim.test", headers=auth) as c:
        yield simulator, c, receiver
    await simulator.aclose()


async def eventually(probe: Callable[[], Any], what: str, within: float = 5.0) -> Any:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within
    while not (value := probe()):
        if loop.time() > deadline:
            pytest.fail(f"timed out waiting for {what}")
        await asyncio.sleep(0.005)
    return value


async def start_clock(client: httpx.AsyncClient) -> int:
    reply = await client.post(f"/v1/agents/{CLOCK}/runs", json={})
    assert reply.status_code == 202, reply.text
    return int(reply.json()["task_id"])


async def test_duplicate_sends_every_delivery_twice_with_the_same_webhook_id(rig: Any) -> None:
    simulator, client, receiver = rig
    reply = await client.post("/_control/faults", json={"duplicate": 1, "concurrent_duplicates": 0.5, "seed": 3})
    assert reply.json()["delivery"]["duplicate"] == 1

    await start_clock(client)

    await eventually(lambda: len(receiver.got) == 6, "queued, running and awaiting, each twice")
    assert sorted(sequence for _id, sequence in receiver.got) == [1, 1, 2, 2, 3, 3]
    assert len({webhook_id for webhook_id, _sequence in receiver.got}) == 3
    assert [a.fault for a in simulator.attempts].count("duplicate") == 3
    counts = (await client.get("/_control/faults")).json()["counts"]
    assert counts["duplicated"] == 3


async def test_reorder_delivers_the_next_sequence_first(rig: Any) -> None:
    _simulator, client, receiver = rig
    await client.post("/_control/faults", json={"reorder": 1, "reorder_hold": 0.2})

    await start_clock(client)

    await eventually(lambda: len(receiver.got) == 3, "three deliveries")
    assert [sequence for _id, sequence in receiver.got] == [2, 1, 3]  # awaiting (3) has no next: its hold ran out
    counts = (await client.get("/_control/faults")).json()["counts"]
    assert counts["reordered"] == 2 and counts["overtaken"] == 1


async def test_drop_loses_the_first_attempt_and_the_retry_delivers_it_once(rig: Any) -> None:
    simulator, client, receiver = rig
    await client.post("/_control/faults", json={"drop": 1})

    await start_clock(client)

    await eventually(lambda: len(receiver.got) == 3, "three deliveries")
    assert sorted(sequence for _id, sequence in receiver.got) == [1, 2, 3]
    dropped = [a for a in simulator.attempts if a.fault == "dropped"]
    assert [(a.attempt, a.outcome, a.http_status) for a in dropped] == [(1, "retrying", None)] * 3


async def test_delay_marks_the_attempts_it_held_back(rig: Any) -> None:
    simulator, client, receiver = rig
    await client.post("/_control/faults", json={"delay": 1, "delay_seconds": 0.01})

    await start_clock(client)

    await eventually(lambda: len(receiver.got) == 3, "three deliveries")
    assert [a.fault for a in simulator.attempts] == ["delayed"] * 3


async def test_unavailable_for_answers_503_and_stats_count_applied_and_replayed(rig: Any) -> None:
    simulator, client, _receiver = rig
    task_id = await start_clock(client)
    await eventually(lambda: simulator.get_status(CLOCK, task_id).status == "awaiting_tool_calls", "round 1")
    call_id = simulator.get_status(CLOCK, task_id).tool_calls[0].id
    body = {"round": 1, "results": [{"tool_call_id": call_id, "output": "noon"}]}
    path = f"/v1/agents/{CLOCK}/runs/{task_id}/tool_responses"
    key = {"Idempotency-Key": "k-1"}

    await client.post("/_control/faults", json={"unavailable_for": 60})
    refused = await client.post(path, json=body, headers=key)
    await client.post("/_control/faults", json={"unavailable_for": 0})
    first = await client.post(path, json=body, headers=key)
    again = await client.post(path, json=body, headers=key)

    assert refused.status_code == 503 and refused.json()["error"]["code"] == "unavailable"
    assert first.status_code == again.status_code == 200
    stats = (await client.get("/_control/stats")).json()
    assert stats["tool_responses"] == {"answered": {"503 unavailable": 1, "200": 2}, "applied": 1, "replayed": 1}
    assert stats["rounds_applied"] == 1 and stats["rounds_applied_twice"] == []
    assert stats["runs_started"] == 1


async def test_down_for_is_refused_by_the_embedded_simulator(rig: Any) -> None:
    _simulator, client, _receiver = rig

    reply = await client.post("/_control/faults", json={"down_for": 5})

    assert reply.status_code == 422
    assert reply.json()["error"]["code"] == "not_supported"
    assert "standalone" in reply.json()["error"]["message"]


async def test_bad_fault_setting_is_a_clear_422(rig: Any) -> None:
    _simulator, client, _receiver = rig

    reply = await client.post("/_control/faults", json={"duplicate": 1.5})

    assert reply.status_code == 422
    assert "duplicate" in reply.json()["error"]["message"]


async def test_gate_refuses_connections_while_down_then_pipes_again() -> None:
    async def echo(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(await reader.readline())
        await writer.drain()
        writer.close()

    upstream = await asyncio.start_server(echo, "127.0.0.1", 0)
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    gate = Gate("127.0.0.1", port, upstream.sockets[0].getsockname()[:2])
    await gate.open()

    async def ask() -> bytes:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(b"ping\n")
        line = await reader.readline()
        writer.close()
        return line

    try:
        assert await ask() == b"ping\n"
        await gate.down(2.0)
        with pytest.raises(ConnectionRefusedError):
            await asyncio.open_connection("127.0.0.1", port)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + 10
        while True:
            try:
                assert await ask() == b"ping\n"
                break
            except ConnectionRefusedError:
                assert loop.time() < deadline, "the gate did not listen again"
                await asyncio.sleep(0.05)
    finally:
        await gate.close()
        upstream.close()


def test_main_bad_fault_share_exits_2(capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["--webhook-url", "http://x", "--secret", SECRET, "--duplicate", "2"])

    assert code == 2
    assert "--duplicate" in capsys.readouterr().err
