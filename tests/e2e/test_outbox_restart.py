"""The outbox across a crash: a submission stored while the platform was down lands once after both recover.

Real processes and real HTTP: a standalone simulator (``python -m app simulate``) and a console pointed at it,
stopped and started again on the same database file.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest

from tests.builders import CLOCK
from tests.e2e.conftest import _free_port
from tests.e2e.support import console_env

SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
KEY = "restart-test-key"
AUTH = {"authorization": f"Bearer {KEY}"}
ROOT = Path(__file__).resolve().parents[2]


def _wait(condition: Callable[[], object], what: str, within: float = 20.0) -> object:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        try:
            value = condition()
        except httpx.TransportError:
            value = None
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError(f"{what} did not happen within {within} s")


def _token(tmp_path: Path, settings: dict[str, str]) -> str:
    """An admin's API token on the console's database, made with ``python -m app token create``."""
    made = subprocess.run(
        [sys.executable, "-m", "app", "token", "create", "--name", "restart test", "--role", "admin"],
        cwd=tmp_path,
        env=console_env(dict(os.environ)) | settings,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    return made.stdout.strip().splitlines()[-1]


@pytest.fixture
def processes(tmp_path: Path) -> Iterator[Callable[..., subprocess.Popen[bytes]]]:
    started: list[subprocess.Popen[bytes]] = []
    env = console_env(dict(os.environ))

    def start(args: list[str], log: str, extra: dict[str, str] | None = None) -> subprocess.Popen[bytes]:
        with (tmp_path / log).open("ab") as out:
            process = subprocess.Popen(
                [sys.executable, "-m", "app", *args],
                cwd=tmp_path,
                env=env | (extra or {}),
                stdout=out,
                stderr=subprocess.STDOUT,
            )
        started.append(process)
        return process

    yield start
    for process in started:
        if process.poll() is None:
            process.send_signal(signal.SIGINT)
            try:
                process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def test_outbox_submission_lands_once_after_outage_and_restart(processes, tmp_path: Path):
    sim_port, console_port = _free_port(), _free_port()
    sim = f"http://127.0.0.1:{sim_port}"
    console = f"http://127.0.0.1:{console_port}"
    processes(
        [
            "simulate",
            "--port",
            str(sim_port),
            "--webhook-url",
            f"{console}/webhooks/sudoiq",
            "--secret",
            SECRET,
            "--api-key",
            KEY,
        ],
        "simulator.log",
    )
    settings = {
        "TOOLDESK_PORT": str(console_port),
        "TOOLDESK_PLATFORM_URL": sim,
        "TOOLDESK_PLATFORM_API_KEY": KEY,
        "TOOLDESK_WEBHOOK_SECRET": SECRET,
        "TOOLDESK_DATABASE_URL": f"sqlite:///{tmp_path}/console.db",
        "TOOLDESK_OUTBOX_RETRY": "0.2",
    }
    token = _token(tmp_path, settings)
    api = httpx.Client(base_url=console, headers={"authorization": f"Bearer {token}"})
    with api:
        first = processes([], "console-1.log", settings)
        _wait(lambda: httpx.get(f"{sim}/v1/agents", headers=AUTH).status_code == 200, "the simulator starting")
        _wait(lambda: api.get("/api/runs").status_code == 200, "the console starting")

        handler = {
            "agent_id": CLOCK,
            "tool_name": "get_current_time",
            "kind": "static",
            "mode": "auto",
            "spec": {"output": "09:00 UTC"},
        }
        assert api.post("/api/handlers", json=handler).status_code == 200
        assert httpx.post(f"{sim}/_control/faults", json={"unavailable_tool_responses": 1000}, headers=AUTH).is_success
        task_id = api.post(f"/api/agents/{CLOCK}/runs", json={}).json()["task_id"]

        def queued() -> bool:
            rounds = api.get(f"/api/runs/{task_id}").json()["rounds"]
            return bool(rounds) and rounds[0]["state"] == "submitting" and "attempt 2 failed" in rounds[0]["message"]

        _wait(queued, "the auto-answer being queued and retried")
        first.kill()  # no graceful shutdown: the stored submission must survive a crash
        first.wait(timeout=10)

        assert httpx.post(f"{sim}/_control/faults", json={"unavailable_tool_responses": 0}, headers=AUTH).is_success
        processes([], "console-2.log", settings)
        _wait(lambda: api.get("/api/runs").status_code == 200, "the console starting again")
        _wait(lambda: api.get(f"/api/runs/{task_id}").json()["status"] == "completed", "the run completing")

        received = httpx.get(f"{sim}/_control/received", headers=AUTH).json()
        assert [(r["task_id"], r["round"], [x["output"] for x in r["results"]]) for r in received] == [
            (task_id, 1, ["09:00 UTC"])
        ]
        run = api.get(f"/api/runs/{task_id}").json()
        assert run["result"] == "The current time in UTC is 09:00 UTC."
        assert run["rounds"][0]["answered_by"] == "handlers (auto)"
