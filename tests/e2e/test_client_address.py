"""The client's address is the connection's own unless a trusted proxy names it (``TOOLDESK_TRUSTED_PROXIES``):
uvicorn on its own believes ``X-Forwarded-For`` from 127.0.0.1, and anything on the console's host could then name a
new address with each refused delivery and never reach the refusal rate limit."""

from __future__ import annotations

import time
from pathlib import Path

import httpx

from tests.builders import free_port
from tests.e2e.processes import Start, processes, wait_until
from tests.e2e.support import AUTH

__all__ = ["processes"]  # the fixture, used by name


def _refusals(port: int, count: int) -> list[int]:
    """POST ``count`` badly signed deliveries, each naming another client in ``X-Forwarded-For``; their statuses."""
    statuses = []
    with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=10) as client:
        for n in range(count):
            headers = {
                "webhook-id": f"msg_forwarded_{n}",
                "webhook-timestamp": str(int(time.time())),
                "webhook-signature": "v1,bm90IGEgc2lnbmF0dXJl",
                "content-type": "application/json",
                "x-forwarded-for": f"10.9.0.{n + 1}",
            }
            statuses.append(client.post("/webhooks/sudoiq", content=b"{}", headers=headers).status_code)
    return statuses


def _start(processes: Start, tmp_path: Path, **extra: str) -> int:
    port = free_port()
    settings = {
        "TOOLDESK_PORT": str(port),
        "TOOLDESK_DATABASE_URL": f"sqlite:///{tmp_path}/console.db",
        "TOOLDESK_REFUSED_RATE": "3",
        **extra,
    }
    processes([], "console.log", settings)
    wait_until(
        lambda: httpx.get(f"http://127.0.0.1:{port}/sim/v1/agents", headers=AUTH, timeout=5).status_code == 200,
        "the console starting",
    )
    return port


def test_forwarded_for_from_the_same_host_does_not_lift_the_refusal_limit(processes: Start, tmp_path: Path):
    port = _start(processes, tmp_path)

    assert _refusals(port, 6) == [401, 401, 401, 429, 429, 429]


def test_forwarded_for_from_a_trusted_proxy_names_the_client(processes: Start, tmp_path: Path):
    port = _start(processes, tmp_path, TOOLDESK_TRUSTED_PROXIES="127.0.0.1")

    assert _refusals(port, 6) == [401] * 6  # six clients behind the proxy, one refusal each
