"""Two consoles on one PostgreSQL database act as one (issue 9, item 3).

Real processes and real HTTP: a throwaway PostgreSQL cluster (``tests.postgres``, this test process's), a standalone simulator
(``python -m app simulate``) as the platform, two consoles on the same database, and in front of their webhooks a
small balancer in this process (what a deployment's load balancer does: each delivery goes to one console, and to
the other when that one does not answer). Checked:

- a delivery that reaches console A shows up live in a browser tab on console B (LISTEN/NOTIFY: B never sees the
  delivery itself, and the tab is not reloaded);
- rounds auto-answered by whichever console received them reach the simulator exactly once (what it received);
- a ``kill -9`` of console A mid-traffic loses nothing: console B takes A's deliveries, and A restarted resumes
  what it had stored, so every run completes and no round is applied twice.
"""

from __future__ import annotations

import itertools
import threading
import time
from collections import Counter
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
from playwright.sync_api import Browser, expect

from tests import postgres
from tests.builders import CLOCK, free_port
from tests.e2e.processes import Start, crash, processes, wait_until
from tests.e2e.support import round_card

__all__ = ["processes"]  # the fixture, used by name

SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
KEY = "two-consoles-key"
AUTH = {"authorization": f"Bearer {KEY}"}
FORWARDED = ("content-type", "webhook-id", "webhook-timestamp", "webhook-signature")


class Balancer:
    """Forwards each webhook POST to one console in turn (``only``: always that one), and to the next when a
    console does not answer, as a load balancer with health checks does."""

    def __init__(self, port: int, consoles: list[str]) -> None:
        self.consoles = consoles
        self.only: str | None = None
        self.forwarded: Counter[str] = Counter()
        self._turn = itertools.count()
        self._http = httpx.Client(timeout=30)
        balancer = self

        class Forward(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("content-length") or 0))
                headers = {name: self.headers[name] for name in FORWARDED if self.headers[name] is not None}
                status, content = balancer.forward(self.path, body, headers)
                self.send_response(status)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(content)))
                self.end_headers()
                self.wfile.write(content)

            def log_message(self, *_args: Any) -> None:
                return

        self._server = ThreadingHTTPServer(("127.0.0.1", port), Forward)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    def forward(self, path: str, body: bytes, headers: dict[str, str]) -> tuple[int, bytes]:
        if self.only is not None:
            order = [self.only]
        else:
            first = next(self._turn) % len(self.consoles)
            order = self.consoles[first:] + self.consoles[:first]
        for console in order:
            try:
                response = self._http.post(f"{console}{path}", content=body, headers=headers)
            except httpx.TransportError:
                continue
            self.forwarded[console] += 1
            return response.status_code, response.content
        return 502, b'{"error": {"code": "no_console", "message": "no console answered"}}'

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._http.close()


def test_two_consoles_on_one_database_act_as_one(
    postgres_cluster: postgres.Cluster, processes: Start, browser: Browser, tmp_path: Path
) -> None:
    database = postgres_cluster.url(postgres_cluster.fresh_database())
    sim_port, a_port, b_port, front_port = free_port(), free_port(), free_port(), free_port()
    sim = f"http://127.0.0.1:{sim_port}"
    a, b = f"http://127.0.0.1:{a_port}", f"http://127.0.0.1:{b_port}"
    front = Balancer(front_port, [a, b])
    sim_args = ["simulate", "--port", str(sim_port), "--secret", SECRET, "--api-key", KEY]
    processes([*sim_args, "--webhook-url", f"http://127.0.0.1:{front_port}/webhooks/sudoiq"], "simulator.log")

    def settings(port: int) -> dict[str, str]:
        return {
            "TOOLDESK_PORT": str(port),
            "TOOLDESK_DATABASE_URL": database,
            "TOOLDESK_PLATFORM_URL": sim,
            "TOOLDESK_PLATFORM_API_KEY": KEY,
            "TOOLDESK_WEBHOOK_SECRET": SECRET,
            "TOOLDESK_AUTH": "off",  # loopback only; sign-in has tests of its own
            "TOOLDESK_OUTBOX_RETRY": "0.2",
        }

    def start_console(name: str, port: int) -> Any:
        process = processes([], f"console-{name}.log", settings(port))
        wait_until(lambda: httpx.get(f"http://127.0.0.1:{port}/api/runs").status_code == 200, f"console {name}")
        return process

    def start_run() -> int:
        started = httpx.post(f"{sim}/v1/agents/{CLOCK}/runs", json={}, headers=AUTH)
        assert started.status_code == 202, started.text
        return int(started.json()["task_id"])

    def status(task_id: int) -> str:
        return str(httpx.get(f"{sim}/v1/agents/{CLOCK}/runs/{task_id}", headers=AUTH).json()["status"])

    def all_completed(task_ids: list[int]) -> Callable[[], bool]:
        return lambda: all(status(task_id) == "completed" for task_id in task_ids)

    try:
        wait_until(lambda: httpx.get(f"{sim}/v1/agents", headers=AUTH).status_code == 200, "the simulator starting")
        console_a = start_console("a", a_port)
        start_console("b", b_port)

        # 1. live push: the delivery reaches A only; B's open inbox shows the round without a reload
        front.only = a
        context = browser.new_context(base_url=b)
        try:
            page = context.new_page()
            page.goto("/")
            expect(page.get_by_text("No round is waiting", exact=False)).to_be_visible(timeout=30_000)
            page.evaluate("window.__same_document = true")
            manual = start_run()
            expect(round_card(page, "Clock", manual, 1)).to_be_visible(timeout=30_000)
            assert page.evaluate("window.__same_document === true"), "the tab was reloaded"
            assert front.forwarded[b] == 0, "console B received a delivery itself"
        finally:
            context.close()
        front.only = None

        # 2. auto-answered rounds, deliveries shared by both consoles: each round reaches the simulator once
        handler = {
            "agent_id": CLOCK,
            "tool_name": "get_current_time",
            "kind": "static",
            "mode": "auto",
            "spec": {"output": "09:00 UTC"},
        }
        assert httpx.post(f"{a}/api/handlers", json=handler).status_code == 200
        shared = [start_run() for _ in range(12)]
        wait_until(all_completed(shared), "every auto-answered run completing")
        assert front.forwarded[a] > 0 and front.forwarded[b] > 0, f"one console took every delivery: {front.forwarded}"
        received = httpx.get(f"{sim}/_control/received", headers=AUTH).json()
        sent = Counter(item["task_id"] for item in received if item["task_id"] in shared)
        assert sent == dict.fromkeys(shared, 1), f"rounds not received exactly once: {sent}"
        answered = httpx.get(f"{sim}/_control/stats", headers=AUTH).json()["tool_responses"]["answered"]
        assert answered == {"200": len(received)}, f"a round was sent more than once (repeats answered): {answered}"

        # 3. kill -9 of console A while runs are under way: nothing is lost, nothing applied twice
        busy: list[int] = []

        def traffic() -> None:
            for _ in range(30):
                busy.append(start_run())
                time.sleep(0.05)

        sender = threading.Thread(target=traffic)
        sender.start()
        wait_until(lambda: len(busy) >= 10, "runs under way")
        crash(console_a)
        sender.join()
        start_console("a (restarted)", a_port)
        wait_until(all_completed(busy), "every run completing after the crash", within=180)
        stats = httpx.get(f"{sim}/_control/stats", headers=AUTH).json()
        assert stats["rounds_applied_twice"] == [], stats
        received = httpx.get(f"{sim}/_control/received", headers=AUTH).json()
        sent = Counter(item["task_id"] for item in received if item["task_id"] in busy)
        assert sent == dict.fromkeys(busy, 1), f"rounds not applied exactly once after the crash: {sent}"
    finally:
        front.close()
