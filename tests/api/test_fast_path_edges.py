"""Requests the fast path (``app.webhooks.fast_path``) serves ahead of the sign-in gate: the embedded simulator
under ``/sim/`` and the webhook. Nothing there may be used without its key or signature, not even to fill the
console's memory, and every answer carries the security headers.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from app.runtime import Runtime
from tests.builders import Console

CHUNK = 64 * 1024


class Streamed:
    """A request body sent in chunks, counting how many bytes the console pulled."""

    def __init__(self, size: int) -> None:
        self.size = size
        self.pulled = 0

    async def chunks(self) -> AsyncIterator[bytes]:
        chunk = b" " * CHUNK
        while self.pulled < self.size:
            self.pulled += CHUNK
            yield chunk
            await asyncio.sleep(0)


@pytest.mark.parametrize("key", [None, "Bearer wrong-key"])
@pytest.mark.parametrize(
    "path", ["/sim/v1/agents/a/runs", "/sim/v1/agents/a/runs/1/tool_responses", "/sim/_control/faults"]
)
async def test_simulator_without_its_key_refused_before_the_body_is_read(
    console: Console, runtime: Runtime, path: str, key: str | None
):
    """Without the key, a 50 MB body was read whole into memory before the 401 (the key is a dependency, which
    FastAPI solves after reading the body)."""
    body = Streamed(50_000_000)
    headers = {"content-type": "application/json", "authorization": key or ""}
    response = await console.post(path, content=body.chunks(), headers=headers)
    assert response.status_code == 401, response.text
    assert response.json()["error"]["code"] == "unauthorized"
    assert response.headers["www-authenticate"] == "Bearer"
    assert response.headers["x-frame-options"] == "DENY"
    assert body.pulled <= CHUNK
    assert runtime.simulator is not None and not runtime.simulator.received


async def test_simulator_with_its_key_still_served(console: Console, runtime: Runtime):
    assert runtime.simulator is not None
    key = {"authorization": f"Bearer {runtime.simulator.api_key}"}
    assert (await console.get("/sim/v1/agents", headers=key)).status_code == 200
    response = await console.post("/sim/_control/faults", json={"unavailable_tool_responses": 0}, headers=key)
    assert response.status_code == 200, response.text


@pytest.mark.parametrize(
    ("method", "path", "status", "code"),
    [("GET", "/sim/no/such/path", 404, "not_found"), ("OPTIONS", "/sim/v1/agents", 405, "method_not_allowed")],
)
async def test_simulator_errors_in_the_contract_shape(console: Console, method: str, path: str, status: int, code: str):
    """The simulator's own errors are ``{"error": {"code", "message"}}`` (``app.simulator.api``); Starlette's 404
    and 405 under ``/sim/`` were FastAPI's ``{"detail": ...}``."""
    response = await console.request(method, path)
    assert response.status_code == status
    assert response.json()["error"]["code"] == code
    assert response.headers["x-content-type-options"] == "nosniff"


async def test_simulator_foreign_host_refused_in_error_shape(console: Console):
    response = await console.get("/sim/v1/agents", headers={"host": "evil.example"})
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "bad_host"
    assert "frame-ancestors 'none'" in response.headers["content-security-policy"]
