"""The outbox across a crash: a submission stored while the platform was down lands once after both recover.

Real processes and real HTTP: a standalone simulator (``python -m app simulate``) and a console pointed at it,
stopped and started again on the same database file.
"""

from __future__ import annotations

from pathlib import Path

import httpx

from tests.builders import CLOCK, free_port
from tests.e2e.processes import Start, admin_token, processes, wait_until

__all__ = ["processes"]  # the fixture, used by name

SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
KEY = "restart-test-key"
AUTH = {"authorization": f"Bearer {KEY}"}


def test_outbox_submission_lands_once_after_outage_and_restart(processes: Start, tmp_path: Path):
    sim_port, console_port = free_port(), free_port()
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
    token = admin_token(tmp_path, settings)
    api = httpx.Client(base_url=console, headers={"authorization": f"Bearer {token}"})
    with api:
        first = processes([], "console-1.log", settings)
        wait_until(lambda: httpx.get(f"{sim}/v1/agents", headers=AUTH).status_code == 200, "the simulator starting")
        wait_until(lambda: api.get("/api/runs").status_code == 200, "the console starting")

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

        wait_until(queued, "the auto-answer being queued and retried")
        first.kill()  # no graceful shutdown: the stored submission must survive a crash
        first.wait(timeout=10)

        assert httpx.post(f"{sim}/_control/faults", json={"unavailable_tool_responses": 0}, headers=AUTH).is_success
        processes([], "console-2.log", settings)
        wait_until(lambda: api.get("/api/runs").status_code == 200, "the console starting again")
        wait_until(lambda: api.get(f"/api/runs/{task_id}").json()["status"] == "completed", "the run completing")

        received = httpx.get(f"{sim}/_control/received", headers=AUTH).json()
        assert [(r["task_id"], r["round"], [x["output"] for x in r["results"]]) for r in received] == [
            (task_id, 1, ["09:00 UTC"])
        ]
        run = api.get(f"/api/runs/{task_id}").json()
        assert run["result"] == "The current time in UTC is 09:00 UTC."
        assert run["rounds"][0]["answered_by"] == "handlers (auto)"
