"""The embedded simulator's runs outlive a console restart (issue 8, item 6): real processes, real HTTP, one SQLite
file, the console crashed with ``kill -9`` mid-round and started again on that file."""

from __future__ import annotations

import time
from calendar import timegm
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.builders import CLOCK, free_port
from tests.e2e.processes import Start, cli, crash, processes, wait_until
from tests.e2e.support import AUTH

__all__ = ["processes"]  # the fixture, used by name


class _Console:
    """One console's settings on a shared file, and its API (sign-in off: loopback only)."""

    def __init__(self, tmp_path: Path, **extra: str) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.settings = {
            "TOOLDESK_PORT": str(self.port),
            "TOOLDESK_DATABASE_URL": f"sqlite:///{tmp_path}/console.db",
            "TOOLDESK_AUTH": "off",
            "TOOLDESK_STEP_DELAY": "0.05",
            **extra,
        }
        self.api = httpx.Client(base_url=self.url, timeout=10)

    def start(self, processes: Start, log: str) -> Any:
        process = processes([], log, self.settings)
        wait_until(lambda: self.api.get("/sim/v1/agents", headers=AUTH).status_code == 200, f"{log}: the console up")
        return process

    def run(self, task_id: int) -> dict[str, Any]:
        return dict(self.api.get(f"/api/runs/{task_id}").json())

    def pending_round(self, task_id: int) -> dict[str, Any]:
        def found() -> list[dict[str, Any]]:
            return [r for r in self.api.get("/api/rounds").json() if r["task_id"] == task_id]

        return dict(wait_until(found, f"round 1 of run {task_id} pending")[0])

    def status(self, task_id: int) -> httpx.Response:
        """What the platform (the embedded simulator) says about the run."""
        return self.api.get(f"/sim/v1/agents/{CLOCK}/runs/{task_id}", headers=AUTH)


@pytest.fixture
def make_console(tmp_path: Path) -> Iterator[Callable[..., _Console]]:
    made: list[_Console] = []

    def make(**extra: str) -> _Console:
        made.append(_Console(tmp_path, **extra))
        return made[-1]

    yield make
    for console in made:
        console.api.close()


def test_simulated_run_goes_on_after_console_crash_mid_round(processes: Start, make_console: Callable[..., _Console]):
    console = make_console()
    first = console.start(processes, "console-1.log")
    task_id = int(console.api.post(f"/api/agents/{CLOCK}/runs", json={}).json()["task_id"])
    console.pending_round(task_id)
    crash(first)

    console.start(processes, "console-2.log")
    round_ = console.pending_round(task_id)  # still pending: the platform has not forgotten the run
    results = [{"tool_call_id": call["tool_call_id"], "output": "10:15 UTC"} for call in round_["tool_calls"]]
    answered = console.api.post(f"/api/rounds/{round_['id']}/responses", json={"results": results})

    assert answered.status_code == 200, answered.text
    done = wait_until(lambda: console.run(task_id)["status"] == "completed" and console.run(task_id), "completion")
    assert done["result"] == "The current time in UTC is 10:15 UTC."
    assert all(event["kind"] != "lost" for event in done["events"])
    received = console.api.get("/sim/_control/received", headers=AUTH).json()
    assert [(r["task_id"], r["round"]) for r in received] == [(task_id, 1)]


def test_round_whose_deadline_passed_while_down_is_expired_at_start(
    processes: Start, make_console: Callable[..., _Console]
):
    console = make_console(TOOLDESK_ROUND_TTL="4")
    first = console.start(processes, "console-1.log")
    task_id = int(console.api.post(f"/api/agents/{CLOCK}/runs", json={}).json()["task_id"])
    expires_at = console.pending_round(task_id)["expires_at"]
    crash(first)
    deadline = timegm(time.strptime(expires_at, "%Y-%m-%dT%H:%M:%SZ"))
    wait_until(lambda: time.time() > deadline + 1, "the round's deadline passing while the console is down")

    console.start(processes, "console-2.log")
    expired = wait_until(lambda: console.run(task_id)["status"] == "expired" and console.run(task_id), "expiry")

    assert expired["error"]["code"] == "expired"
    assert expired["rounds"][0]["state"] == "expired"
    assert console.status(task_id).json()["status"] == "expired"
    assert console.api.get("/api/rounds").json() == []


def test_idempotency_key_replayed_after_restart_is_not_applied_twice(
    processes: Start, make_console: Callable[..., _Console]
):
    console = make_console()
    first = console.start(processes, "console-1.log")
    task_id = int(console.api.post(f"/api/agents/{CLOCK}/runs", json={}).json()["task_id"])
    [call] = console.pending_round(task_id)["tool_calls"]
    url = f"/sim/v1/agents/{CLOCK}/runs/{task_id}/tool_responses"
    body = {"round": 1, "results": [{"tool_call_id": call["tool_call_id"], "output": "noon"}]}
    headers = AUTH | {"Idempotency-Key": "restart-key-1"}
    accepted = console.api.post(url, json=body, headers=headers)
    assert accepted.status_code == 200, accepted.text
    wait_until(lambda: console.run(task_id)["status"] == "completed", "completion before the crash")
    crash(first)

    console.start(processes, "console-2.log")
    replayed = console.api.post(url, json=body, headers=headers)
    other_body = console.api.post(url, json={**body, "results": [{**body["results"][0], "output": "midnight"}]},
                                  headers=headers)  # fmt: skip

    assert replayed.status_code == 200, replayed.text
    assert replayed.json() == accepted.json()
    assert other_body.status_code == 422 and other_body.json()["error"]["code"] == "idempotency_key_reused"
    received = console.api.get("/sim/_control/received", headers=AUTH).json()
    assert [(r["task_id"], r["round"]) for r in received] == [(task_id, 1)]
    assert console.status(task_id).json()["status"] == "completed"


def test_standalone_simulator_keeps_runs_in_its_database_file(processes: Start, tmp_path: Path):
    port = free_port()
    sim = httpx.Client(base_url=f"http://127.0.0.1:{port}", headers=AUTH, timeout=10)
    args = ["simulate", "--port", str(port), "--webhook-url", f"http://127.0.0.1:{free_port()}/webhooks/sudoiq"]
    args += ["--secret", "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", "--database", str(tmp_path / "sim.db")]
    with sim:
        first = processes(args, "simulator-1.log")
        wait_until(lambda: sim.get("/v1/agents").status_code == 200, "the simulator starting")
        task_id = sim.post(f"/v1/agents/{CLOCK}/runs", json={}).json()["task_id"]
        awaiting = wait_until(
            lambda: (
                (status := sim.get(f"/v1/agents/{CLOCK}/runs/{task_id}").json())["status"] == "awaiting_tool_calls"
                and status
            ),
            "round 1",
        )
        refused = cli(tmp_path, {}, *[a if a != str(port) else str(free_port()) for a in args])
        crash(first)

        processes(args, "simulator-2.log")
        wait_until(lambda: sim.get("/v1/agents").status_code == 200, "the simulator starting again")
        after = sim.get(f"/v1/agents/{CLOCK}/runs/{task_id}").json()

    assert refused.returncode == 2
    assert f"pid {first.pid}, port {port}" in refused.stderr and "--database" in refused.stderr
    assert after == awaiting
