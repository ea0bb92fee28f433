"""The simulator through its HTTP API, with a webhook receiver that verifies every signature."""

from __future__ import annotations

import asyncio
import base64
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from standardwebhooks import Webhook
from standardwebhooks.webhooks import WebhookVerificationError

from app.simulator import DEFAULT_SCENARIOS_DIR, Scenario, Simulator, build_router, load_scenarios

SECRET = "whsec_" + base64.b64encode(b"tooldesk-simulator-test-secret!!").decode()
API_KEY = "sim-test-key"
AGENTS = {scenario.name: scenario.agent_id for scenario in load_scenarios(DEFAULT_SCENARIOS_DIR)}
CLOCK, TRIP, FLAKY = AGENTS["Clock"], AGENTS["Trip planner"], AGENTS["Flaky"]


@dataclass
class Delivery:
    webhook_id: str
    timestamp: str
    payload: dict[str, Any]
    answer: int


@dataclass
class Receiver:
    """Plays the console's webhook route: verifies, records, answers ``answers`` first, then 204."""

    answers: list[int | Exception] = field(default_factory=list)
    deliveries: list[Delivery] = field(default_factory=list)
    unverified: list[str] = field(default_factory=list)

    def __call__(self, request: httpx.Request) -> httpx.Response:
        try:
            payload = Webhook(SECRET).verify(request.content, dict(request.headers))
        except WebhookVerificationError as exc:
            self.unverified.append(str(exc))
            return httpx.Response(400)
        assert request.headers["content-type"] == "application/json"
        answer = self.answers.pop(0) if self.answers else 204
        if isinstance(answer, Exception):
            raise answer
        headers = request.headers
        self.deliveries.append(Delivery(headers["webhook-id"], headers["webhook-timestamp"], payload, answer))
        return httpx.Response(answer)

    def of(self, task_id: int) -> list[dict[str, Any]]:
        """Payloads of accepted (2xx) deliveries for ``task_id``, in arrival order."""
        return [d.payload for d in self.deliveries if d.payload["task_id"] == task_id and d.answer < 300]


@dataclass
class Rig:
    simulator: Simulator
    client: httpx.AsyncClient
    receiver: Receiver

    async def start(self, agent_id: str, inputs: dict[str, str] | None = None) -> int:
        response = await self.client.post(f"/v1/agents/{agent_id}/runs", json={"string_inputs": inputs or {}})
        assert response.status_code == 202, response.text
        return int(response.json()["task_id"])

    async def wait_for(self, task_id: int, status: str, round: int | None = None) -> dict[str, Any]:
        """The first delivery of ``task_id`` in ``status`` (and ``round``), waiting up to 2 s."""

        def found() -> dict[str, Any] | None:
            matches = [p for p in self.receiver.of(task_id) if p["status"] == status and round in (None, p["round"])]
            return matches[0] if matches else None

        return await eventually(found, f"task {task_id} {status} round {round}")

    async def answer(
        self, agent_id: str, task_id: int, round: int, results: list[dict[str, Any]], key: str | None = None
    ) -> httpx.Response:
        headers = {"Idempotency-Key": key} if key else {}
        return await self.client.post(
            f"/v1/agents/{agent_id}/runs/{task_id}/tool_responses",
            json={"round": round, "results": results},
            headers=headers,
        )

    async def answer_all(self, agent_id: str, awaiting: dict[str, Any], outputs: dict[str, str]) -> httpx.Response:
        """Answer each call of an awaiting status with ``outputs[tool name]``."""
        results = [{"tool_call_id": c["id"], "output": outputs[c["name"]]} for c in awaiting["tool_calls"]]
        return await self.answer(agent_id, awaiting["task_id"], awaiting["round"], results)


async def eventually(probe: Callable[[], Any], what: str, within: float = 2.0) -> Any:
    """``probe()`` once it is truthy, polling every 2 ms; fails the test after ``within`` seconds."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within
    while not (value := probe()):
        if loop.time() > deadline:
            pytest.fail(f"timed out waiting for {what}")
        await asyncio.sleep(0.002)
    return value


@pytest.fixture
async def make_rig() -> AsyncIterator[Callable[..., Rig]]:
    """Build rigs (simulator + API client + receiver); all are closed after the test."""
    opened: list[Rig] = []

    def build(*, scenarios: list[Scenario] | None = None, answers: list[int | Exception] | None = None,
              **options: Any) -> Rig:  # fmt: skip
        receiver = Receiver(answers=list(answers or []))
        options = {"round_ttl": 60.0, "retry_schedule": (0.001, 0.001), "step_delay": 0, **options}
        simulator = Simulator(
            scenarios=scenarios if scenarios is not None else load_scenarios(DEFAULT_SCENARIOS_DIR),
            webhook_url="http://console.test/webhooks/sudoiq", secret=SECRET, api_key=API_KEY,
            http=httpx.AsyncClient(transport=httpx.MockTransport(receiver)), **options,
        )  # fmt: skip
        app = FastAPI()
        app.include_router(build_router(simulator))
        auth = {"Authorization": f"Bearer {API_KEY}"}
        client = httpx.AsyncClient(transport=httpx.ASGITransport(app), base_url="http://sim.test", headers=auth)
        rig = Rig(simulator, client, receiver)
        opened.append(rig)
        return rig

    yield build
    for rig in opened:
        await rig.simulator.aclose()
        await rig.client.aclose()
        assert rig.receiver.unverified == [], "a delivery failed signature verification"


@pytest.fixture
def rig(make_rig: Callable[..., Rig]) -> Rig:
    return make_rig()


async def test_list_agents_returns_scenarios_with_tools_and_inputs(rig: Rig) -> None:
    response = await rig.client.get("/v1/agents")

    assert response.status_code == 200
    agents = {agent["name"]: agent for agent in response.json()}
    assert set(agents) == {"Clock", "Trip planner", "Flaky", "Weather compare"}
    assert agents["Clock"]["inputs"] == [{"key": "1", "label": "Timezone", "default": "UTC"}]
    assert agents["Clock"]["tools"][0]["name"] == "get_current_time"
    assert agents["Clock"]["tools"][0]["parameters"]["properties"]["timezone"]["type"] == "string"


async def test_start_run_delivers_queued_running_awaiting_signed(rig: Rig) -> None:
    response = await rig.client.post(f"/v1/agents/{CLOCK}/runs", json={"environment": "staging"})

    assert response.status_code == 202
    assert response.json() == {"agent_id": CLOCK, "task_id": 1001, "status": "queued"}
    awaiting = await rig.wait_for(1001, "awaiting_tool_calls")
    payloads = rig.receiver.of(1001)
    assert [p["status"] for p in payloads] == ["queued", "running", "awaiting_tool_calls"]
    assert [p["sequence"] for p in payloads] == [1, 2, 3]
    assert len({d.webhook_id for d in rig.receiver.deliveries}) == 3
    assert all(d.webhook_id.startswith("msg_") for d in rig.receiver.deliveries)
    assert awaiting["round"] == 1
    assert awaiting["environment"] == "staging"
    assert awaiting["expires_at"].endswith("Z") and awaiting["created_at"].endswith("Z")
    [call] = awaiting["tool_calls"]
    assert call["name"] == "get_current_time" and call["arguments"] == {"timezone": "UTC"}
    assert call["id"].startswith("call_")


async def test_start_run_templates_arguments_from_inputs(rig: Rig) -> None:
    task_id = await rig.start(TRIP, {"1": "Porto", "2": "2027-01-02"})

    awaiting = await rig.wait_for(task_id, "awaiting_tool_calls")
    arguments = {c["name"]: c["arguments"] for c in awaiting["tool_calls"]}
    assert arguments["get_weather"] == {"city": "Porto"}
    assert arguments["search_flights"]["to"] == "Porto"
    assert arguments["search_flights"]["date"] == "2027-01-02"


async def test_run_clock_completes_with_answer_quoted(rig: Rig) -> None:
    task_id = await rig.start(CLOCK, {"1": "Europe/Lisbon"})
    awaiting = await rig.wait_for(task_id, "awaiting_tool_calls")

    reply = await rig.answer_all(CLOCK, awaiting, {"get_current_time": "2026-11-29T17:00:02Z"})

    assert reply.status_code == 200
    assert reply.json()["status"] == "running" and reply.json()["sequence"] == 4
    done = await rig.wait_for(task_id, "completed")
    assert "2026-11-29T17:00:02Z" in done["result"] and "Europe/Lisbon" in done["result"]
    assert done["sequence"] == 5 and done["error"] is None
    assert rig.simulator.received[0][0] == task_id
    assert rig.simulator.received[0][1].results[0].output == "2026-11-29T17:00:02Z"


@pytest.mark.parametrize(("weather", "booked"), [("Heavy RAIN, 12°C", "book_umbrella"), ("Sunny, 24°C", "book_hotel")])
async def test_run_trip_planner_branches_on_weather(rig: Rig, weather: str, booked: str) -> None:
    task_id = await rig.start(TRIP)
    first = await rig.wait_for(task_id, "awaiting_tool_calls", round=1)
    assert sorted(c["name"] for c in first["tool_calls"]) == ["get_weather", "search_flights"]

    await rig.answer_all(TRIP, first, {"get_weather": weather, "search_flights": "TP1351 at 09:40"})
    second = await rig.wait_for(task_id, "awaiting_tool_calls", round=2)
    assert [c["name"] for c in second["tool_calls"]] == [booked]
    assert second["tool_calls"][0]["arguments"]["city"] == "Lisbon"
    await rig.answer_all(TRIP, second, {booked: "confirmation K7"})

    done = await rig.wait_for(task_id, "completed")
    assert weather in done["result"] and "TP1351 at 09:40" in done["result"] and "confirmation K7" in done["result"]
    ids = [c["id"] for c in first["tool_calls"] + second["tool_calls"]]
    assert len(set(ids)) == 3


async def test_run_flaky_error_fails_run(rig: Rig) -> None:
    task_id = await rig.start(FLAKY)
    awaiting = await rig.wait_for(task_id, "awaiting_tool_calls")
    [call] = awaiting["tool_calls"]

    error = {"tool_call_id": call["id"], "output": "quote service down", "is_error": True}
    await rig.answer(FLAKY, task_id, 1, [error])

    failed = await rig.wait_for(task_id, "failed")
    assert failed["error"] == {"code": "tool_error", "message": "fetch_quote failed: quote service down"}
    assert failed["result"] is None


async def test_run_flaky_success_completes(rig: Rig) -> None:
    task_id = await rig.start(FLAKY, {"1": "TDSK"})
    awaiting = await rig.wait_for(task_id, "awaiting_tool_calls")

    await rig.answer_all(FLAKY, awaiting, {"fetch_quote": "42.10 USD"})

    done = await rig.wait_for(task_id, "completed")
    assert "42.10 USD" in done["result"] and "TDSK" in done["result"]


async def test_run_template_error_fails_with_scenario_error(make_rig: Callable[..., Rig]) -> None:
    broken = load_scenarios(DEFAULT_SCENARIOS_DIR)[0].model_copy(update={"result": "{{ outputs.nothing.here }}"})
    rig = make_rig(scenarios=[broken])
    task_id = await rig.start(broken.agent_id)
    awaiting = await rig.wait_for(task_id, "awaiting_tool_calls")

    await rig.answer_all(broken.agent_id, awaiting, {"get_current_time": "noon"})

    failed = await rig.wait_for(task_id, "failed")
    assert failed["error"]["code"] == "scenario_error"
    assert failed["error"]["message"].startswith("result:")


async def test_send_tool_responses_mismatch_names_missing_and_unexpected(rig: Rig) -> None:
    task_id = await rig.start(TRIP)
    awaiting = await rig.wait_for(task_id, "awaiting_tool_calls")
    weather, flights = sorted(awaiting["tool_calls"], key=lambda c: c["name"])

    reply = await rig.answer(
        TRIP, task_id, 1, [{"tool_call_id": weather["id"], "output": "sun"}, {"tool_call_id": "call_z", "output": "?"}]
    )

    assert reply.status_code == 422
    error = reply.json()["error"]
    assert error["code"] == "tool_call_mismatch"
    assert f"missing {flights['id']}" in error["message"] and "unexpected call_z" in error["message"]
    assert rig.simulator.received == []


async def test_start_run_with_round_ttl_expires_that_run_only(rig: Rig) -> None:
    """``round_ttl`` in the start body (a simulator extension, ``StartRunWithExpiry``) gives one run's rounds their own
    expiry; another run keeps the simulator's (60 s here)."""
    response = await rig.client.post(f"/v1/agents/{CLOCK}/runs", json={"string_inputs": {}, "round_ttl": 0.05})
    assert response.status_code == 202, response.text
    short = int(response.json()["task_id"])
    other = await rig.start(CLOCK)

    expired = await rig.wait_for(short, "expired")

    assert "(0.05 s)" in expired["error"]["message"]
    waiting = await rig.wait_for(other, "awaiting_tool_calls")
    assert waiting["expires_at"] > expired["expires_at"]  # 60 s ahead, not 0.05 s
    assert [p["status"] for p in rig.receiver.of(other)][-1] == "awaiting_tool_calls"
    refused = await rig.client.post(f"/v1/agents/{CLOCK}/runs", json={"round_ttl": 0})
    assert refused.status_code == 422 and "round_ttl" in refused.json()["error"]["message"]


async def test_send_tool_responses_duplicate_ids_rejected(rig: Rig) -> None:
    task_id = await rig.start(CLOCK)
    [call] = (await rig.wait_for(task_id, "awaiting_tool_calls"))["tool_calls"]

    reply = await rig.answer(CLOCK, task_id, 1, [{"tool_call_id": call["id"], "output": "a"}] * 2)

    assert reply.status_code == 422
    assert f"repeated {call['id']}" in reply.json()["error"]["message"]


async def test_send_tool_responses_wrong_round_409(rig: Rig) -> None:
    task_id = await rig.start(CLOCK)
    [call] = (await rig.wait_for(task_id, "awaiting_tool_calls"))["tool_calls"]

    reply = await rig.answer(CLOCK, task_id, 2, [{"tool_call_id": call["id"], "output": "noon"}])

    assert reply.status_code == 409
    assert reply.json()["error"]["code"] == "not_awaiting"
    assert "awaiting_tool_calls (round 1)" in reply.json()["error"]["message"]


async def test_send_tool_responses_after_completion_409(rig: Rig) -> None:
    task_id = await rig.start(CLOCK)
    awaiting = await rig.wait_for(task_id, "awaiting_tool_calls")
    await rig.answer_all(CLOCK, awaiting, {"get_current_time": "noon"})
    await rig.wait_for(task_id, "completed")

    reply = await rig.answer_all(CLOCK, awaiting, {"get_current_time": "noon"})

    assert reply.status_code == 409
    assert "is completed" in reply.json()["error"]["message"]


async def test_send_tool_responses_after_expiry_410(make_rig: Callable[..., Rig]) -> None:
    rig = make_rig(round_ttl=0.02)
    task_id = await rig.start(CLOCK)
    awaiting = await rig.wait_for(task_id, "awaiting_tool_calls")

    expired = await rig.wait_for(task_id, "expired")
    reply = await rig.answer_all(CLOCK, awaiting, {"get_current_time": "noon"})

    assert expired["error"]["code"] == "expired" and expired["sequence"] == 4
    assert reply.status_code == 410
    assert reply.json()["error"]["code"] == "expired"
    assert rig.simulator.received == []


async def test_send_tool_responses_idempotency_key_repeat_returns_first_reply(rig: Rig) -> None:
    task_id = await rig.start(CLOCK)
    [call] = (await rig.wait_for(task_id, "awaiting_tool_calls"))["tool_calls"]
    results = [{"tool_call_id": call["id"], "output": "noon"}]

    first = await rig.answer(CLOCK, task_id, 1, results, key="k-1")
    await rig.wait_for(task_id, "completed")
    again = await rig.answer(CLOCK, task_id, 1, results, key="k-1")

    assert first.status_code == again.status_code == 200
    assert again.json() == first.json()
    assert len(rig.simulator.received) == 1
    assert [p["status"] for p in rig.receiver.of(task_id)].count("completed") == 1


async def test_send_tool_responses_idempotency_key_other_body_422(rig: Rig) -> None:
    task_id = await rig.start(CLOCK)
    [call] = (await rig.wait_for(task_id, "awaiting_tool_calls"))["tool_calls"]
    await rig.answer(CLOCK, task_id, 1, [{"tool_call_id": call["id"], "output": "noon"}], key="k-1")

    reply = await rig.answer(CLOCK, task_id, 1, [{"tool_call_id": call["id"], "output": "midnight"}], key="k-1")

    assert reply.status_code == 422
    assert reply.json()["error"]["code"] == "idempotency_key_reused"


async def test_send_tool_responses_bad_json_422_bad_body(rig: Rig) -> None:
    task_id = await rig.start(CLOCK)
    url = f"/v1/agents/{CLOCK}/runs/{task_id}/tool_responses"

    not_json = await rig.client.post(url, content=b"{round: 1")
    wrong_shape = await rig.client.post(url, json={"round": 0, "results": "none"})

    for reply in (not_json, wrong_shape):
        assert reply.status_code == 422
        assert set(reply.json()) == {"error"}
        assert reply.json()["error"]["code"] == "bad_body"
    assert "not JSON" in not_json.json()["error"]["message"]
    assert "round" in wrong_shape.json()["error"]["message"]


async def test_start_run_bad_body_422_bad_body(rig: Rig) -> None:
    reply = await rig.client.post(f"/v1/agents/{CLOCK}/runs", json={"string_inputs": {"1": 5}})

    assert reply.status_code == 422
    assert reply.json()["error"]["code"] == "bad_body"


async def test_cancel_awaiting_run_cancels_and_delivers(rig: Rig) -> None:
    task_id = await rig.start(CLOCK)
    await rig.wait_for(task_id, "awaiting_tool_calls")

    reply = await rig.client.post(f"/v1/agents/{CLOCK}/runs/{task_id}/cancel")

    assert reply.status_code == 200
    assert reply.json()["status"] == "cancelled" and reply.json()["sequence"] == 4
    assert (await rig.wait_for(task_id, "cancelled"))["sequence"] == 4


async def test_cancel_terminal_run_409(rig: Rig) -> None:
    task_id = await rig.start(CLOCK)
    await rig.client.post(f"/v1/agents/{CLOCK}/runs/{task_id}/cancel")

    reply = await rig.client.post(f"/v1/agents/{CLOCK}/runs/{task_id}/cancel")

    assert reply.status_code == 409
    assert reply.json()["error"]["code"] == "already_terminal"


async def test_get_status_matches_newest_delivery(rig: Rig) -> None:
    task_id = await rig.start(CLOCK)
    awaiting = await rig.wait_for(task_id, "awaiting_tool_calls")

    reply = await rig.client.get(f"/v1/agents/{CLOCK}/runs/{task_id}")

    assert reply.status_code == 200
    assert reply.json() == awaiting


@pytest.mark.parametrize("authorization", [None, "Bearer wrong-key", f"Basic {API_KEY}"])
async def test_request_without_valid_api_key_401(rig: Rig, authorization: str | None) -> None:
    headers = {"Authorization": authorization} if authorization else {}
    rig.client.headers.pop("Authorization")

    reply = await rig.client.get("/v1/agents", headers=headers)

    assert reply.status_code == 401
    assert reply.json()["error"]["code"] == "unauthorized" and reply.json()["error"]["message"]


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("POST", "/v1/agents/00000000-0000-4000-8000-000000000000/runs"),
        ("GET", f"/v1/agents/{CLOCK}/runs/999"),
        ("GET", f"/v1/agents/{CLOCK}/runs/not-a-number"),
        ("POST", f"/v1/agents/{CLOCK}/runs/999/cancel"),
    ],
)
async def test_request_unknown_agent_or_task_404(rig: Rig, method: str, path: str) -> None:
    reply = await rig.client.request(method, path, json={})

    assert reply.status_code == 404
    assert reply.json()["error"]["code"] == "not_found"


async def test_get_status_under_other_agent_404(rig: Rig) -> None:
    task_id = await rig.start(CLOCK)

    reply = await rig.client.get(f"/v1/agents/{FLAKY}/runs/{task_id}")

    assert reply.status_code == 404


async def test_deliver_retries_after_500_with_same_webhook_id(make_rig: Callable[..., Rig]) -> None:
    rig = make_rig(answers=[500, httpx.ConnectError("refused")])

    task_id = await rig.start(CLOCK)

    await rig.wait_for(task_id, "awaiting_tool_calls")
    queued = [a for a in rig.simulator.attempts if a.status == "queued"]
    assert [(a.attempt, a.outcome, a.http_status) for a in queued] == [
        (1, "retrying", 500), (2, "retrying", None), (3, "delivered", 204)
    ]  # fmt: skip
    assert "refused" in (queued[1].error or "")
    assert len({a.webhook_id for a in queued}) == 1
    assert rig.receiver.deliveries[1].webhook_id == queued[0].webhook_id
    assert [p["sequence"] for p in rig.receiver.of(task_id)] == [1, 2, 3]


async def test_deliver_gives_up_when_schedule_exhausted(make_rig: Callable[..., Rig]) -> None:
    rig = make_rig(answers=[503, 503, 503], retry_schedule=(0.001, 0.001))

    task_id = await rig.start(CLOCK)

    await rig.wait_for(task_id, "awaiting_tool_calls")
    outcomes = [a.outcome for a in rig.simulator.attempts if a.status == "queued"]
    assert outcomes == ["retrying", "retrying", "gave_up"]
    assert [p["status"] for p in rig.receiver.of(task_id)] == ["running", "awaiting_tool_calls"]


async def test_deliver_410_stops_further_deliveries(make_rig: Callable[..., Rig]) -> None:
    rig = make_rig(answers=[410])

    task_id = await rig.start(CLOCK)

    await eventually(lambda: rig.simulator.webhook_disabled, "the endpoint to be disabled")
    await eventually(lambda: rig.simulator.get_status(CLOCK, task_id).status == "awaiting_tool_calls", "round 1")
    await asyncio.sleep(0.01)
    assert len(rig.receiver.deliveries) == 1
    assert [(a.status, a.outcome, a.http_status) for a in rig.simulator.attempts] == [("queued", "disabled", 410)]


async def test_deliver_signs_each_attempt_with_its_own_timestamp(make_rig: Callable[..., Rig]) -> None:
    rig = make_rig(answers=[500])

    task_id = await rig.start(CLOCK)

    await rig.wait_for(task_id, "queued")
    first, retry = rig.receiver.deliveries[:2]
    assert first.webhook_id == retry.webhook_id and first.payload == retry.payload
    assert all(d.timestamp.isdigit() for d in (first, retry))


async def test_aclose_stops_pending_deliveries(make_rig: Callable[..., Rig]) -> None:
    rig = make_rig(answers=[500], retry_schedule=(30.0,))
    task_id = await rig.start(CLOCK)
    await eventually(lambda: rig.simulator.attempts, "a first attempt")

    await rig.simulator.aclose()

    assert rig.simulator.get_status(CLOCK, task_id).sequence <= 3
    assert [a.outcome for a in rig.simulator.attempts] == ["retrying"]
