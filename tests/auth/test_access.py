"""Every API route and every page refuses callers without credentials, and callers whose role is too low."""

from __future__ import annotations

import re
from typing import Any

import httpx
import pytest
from fastapi.routing import APIRoute
from nicegui import app as nicegui_app
from nicegui.testing import User

from app.api import audit_routes, delivery_routes, handler_routes, run_bulk_routes, run_routes, secret_routes
from app.auth.access import Need
from app.auth.gate import PAGE_ROLES
from app.guard import PROBE_PATHS
from app.runtime import get_runtime
from app.states import Role
from app.ui.layout import PAGES
from tests.builders import CLOCK, Console, make_session, make_token, sign_in_user

PATH_VALUES = {"task_id": "1001", "agent_id": CLOCK, "tool_call_id": "call_1", "version": "1"}
"""Values for path parameters; any id will do, since the refusal comes before the lookup."""


def _routes() -> list[tuple[str, str, Role]]:
    """(method, path, role) of every route in the OpenAPI schema but the webhook (authenticated by its
    signature), the embedded simulator's and the probes (open by design: ``tests/api/test_health.py``), the role
    read from the route's own ``need(...)``."""
    declared: dict[tuple[str, str], Role] = {}
    for route in [
        *run_routes.router.routes,
        *handler_routes.router.routes,
        *secret_routes.router.routes,
        *audit_routes.router.routes,
        *delivery_routes.router.routes,
        *run_bulk_routes.router.routes,
    ]:
        assert isinstance(route, APIRoute)
        needs = [d.dependency for d in route.dependencies if isinstance(d.dependency, Need)]
        assert len(needs) == 1, f"{route.path} names no role (dependencies=[Depends(need(Role.X))])"
        for method in route.methods:
            declared[(method, route.path)] = needs[0].role
    schema = nicegui_app.openapi()
    found = []
    for path, operations in schema["paths"].items():
        if path == "/webhooks/sudoiq" or path.startswith("/sim/") or path in PROBE_PATHS:
            continue  # the embedded simulator checks its own API key; the probes tell nothing secret
        for method in operations:
            assert (method.upper(), path) in declared, f"{method.upper()} {path} is not walked"
            found.append((method.upper(), path, declared[(method.upper(), path)]))
    return found


def _url(path: str) -> str:
    return re.sub(r"\{(\w+)\}", lambda m: PATH_VALUES.get(m.group(1), "1"), path)


async def _call(client: httpx.AsyncClient, method: str, path: str, **headers: str) -> httpx.Response:
    body: dict[str, Any] = {"content": b"{}", "headers": {"content-type": "application/json", **headers}}
    return await client.request(method, _url(path), **body)


async def test_every_api_route_without_credentials_answers_401(console: Console):
    routes = _routes()
    assert len(routes) >= 25
    async with httpx.AsyncClient(transport=httpx.ASGITransport(nicegui_app), base_url="http://127.0.0.1:8080") as bare:
        for method, path, _role in routes:
            response = await _call(bare, method, path)
            assert response.status_code == 401, (method, path, response.text)
            assert response.json()["error"]["code"] == "unauthorized"


async def test_every_api_route_for_a_role_below_its_own_answers_403(console: Console):
    tokens = {role: make_token(role=role, name=f"{role} token") for role in (Role.VIEWER, Role.ANSWERER)}
    checked = 0
    for method, path, needed in _routes():
        for role, token in tokens.items():
            if role.rank >= needed.rank:
                continue
            response = await _call(console, method, path, authorization=f"Bearer {token}")
            assert response.status_code == 403, (method, path, role, response.text)
            error = response.json()["error"]
            assert error["code"] == "forbidden"
            assert f"needs the role {needed}" in error["message"]
            checked += 1
    assert checked >= 15


async def test_every_page_without_a_session_redirects_to_sign_in(console: Console):
    async with httpx.AsyncClient(transport=httpx.ASGITransport(nicegui_app), base_url="http://127.0.0.1:8080") as bare:
        for path in [*PAGES, "/docs", "/redoc"]:
            response = await bare.get(_url(path))
            assert response.status_code == 303, (path, response.status_code)
            assert response.headers["location"].startswith("/signin?next=%2F"), path
        assert (await bare.get("/openapi.json")).status_code == 401


@pytest.mark.parametrize("path", sorted(PAGE_ROLES))
async def test_page_for_a_role_below_its_own_answers_403(console: Console, path: str):
    needed = PAGE_ROLES[path]
    for role in (r for r in Role if r.rank < needed.rank):
        cookies = {"tooldesk_session": make_session(role=role)}
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(nicegui_app), base_url="http://127.0.0.1:8080", cookies=cookies
        ) as bare:
            response = await bare.get(path)
        assert response.status_code == 403, (path, role)
        assert f"needs the role {needed}" in response.text


async def test_frame_for_a_viewer_hides_what_it_may_not_do(user: User, console: Console):
    sign_in_user(user, role=Role.VIEWER)
    await user.open("/agents")
    await user.should_see("get_current_time", retries=100)  # the Clock agent's card is on screen
    await user.should_not_see(marker="start-Clock")
    await user.should_not_see(marker="run-demo")
    await user.should_not_see(marker="nav-users")


async def test_open_routes_need_no_credentials(console: Console):
    async with httpx.AsyncClient(transport=httpx.ASGITransport(nicegui_app), base_url="http://127.0.0.1:8080") as bare:
        assert (await bare.get("/signin")).status_code == 200
        key = get_runtime().settings.platform_api_key
        agents = await bare.get("/sim/v1/agents", headers={"authorization": f"Bearer {key}"})
        assert agents.status_code == 200
        assert (await bare.post("/webhooks/sudoiq", content=b"{}")).status_code == 400


async def test_embedded_simulator_refuses_the_documented_default_key(console: Console):
    """Unset, the embedded simulator's key is random: the README's ``sim-local-key`` opens neither its fault controls,
    nor what it received, nor its answering endpoint (anyone reaching the port could otherwise act as the platform's
    client, whatever their role)."""
    public = {"authorization": "Bearer sim-local-key"}
    key = get_runtime().settings.platform_api_key
    async with httpx.AsyncClient(transport=httpx.ASGITransport(nicegui_app), base_url="http://127.0.0.1:8080") as bare:
        assert (await bare.post("/sim/_control/faults", json={"drop": 1.0}, headers=public)).status_code == 401
        assert (await bare.get("/sim/_control/received", headers=public)).status_code == 401
        assert (await bare.get("/sim/v1/agents", headers=public)).status_code == 401
        assert (await bare.get("/sim/_control/faults", headers={"authorization": f"Bearer {key}"})).status_code == 200
    assert key != "sim-local-key"
