"""The embedded simulator's routes (``/sim/...``, served in front of NiceGUI's middleware) answer every bad request
in the contract's error shape, as the platform would: a foreign Host, an unknown path, a wrong method, a task id
SQLite cannot hold. Never a plain-text line, FastAPI's ``{"detail": ...}`` or a 500."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
from nicegui import app as nicegui_app

from app.runtime import Runtime
from tests.builders import CLOCK


@pytest.fixture
async def platform(runtime: Runtime) -> AsyncIterator[httpx.AsyncClient]:
    """A client calling the embedded simulator with the platform's API key, as the console does."""
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(nicegui_app),
        base_url="http://127.0.0.1:8080",
        headers={"authorization": f"Bearer {runtime.settings.platform_api_key}"},
    ) as client:
        yield client


def error_code(response: httpx.Response, status: int) -> str:
    assert response.status_code == status, response.text
    body = response.json()
    assert set(body) == {"error"}, body
    return str(body["error"]["code"])


async def test_simulator_foreign_host_is_refused_in_contract_shape(platform: httpx.AsyncClient):
    response = await platform.get("/sim/v1/agents", headers={"host": "evil.example"})
    assert error_code(response, 400) == "bad_host"
    assert "evil.example" in response.json()["error"]["message"]


async def test_simulator_unknown_path_is_404_in_contract_shape(platform: httpx.AsyncClient):
    assert error_code(await platform.get("/sim/v1/nothing-here"), 404) == "not_found"


async def test_simulator_wrong_method_is_405_in_contract_shape(platform: httpx.AsyncClient):
    assert error_code(await platform.delete("/sim/v1/agents"), 405) == "method_not_allowed"


async def test_simulator_task_id_past_64_bits_is_404(platform: httpx.AsyncClient):
    huge = str(2**64)
    assert error_code(await platform.get(f"/sim/v1/agents/{CLOCK}/runs/{huge}"), 404) == "not_found"
    cancel = await platform.post(f"/sim/v1/agents/{CLOCK}/runs/{huge}/cancel")
    assert error_code(cancel, 404) == "not_found"
