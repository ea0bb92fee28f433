"""A write signed in by the session cookie must come from the console's own origin (cross-site request forgery)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
from nicegui import app as nicegui_app

from app.states import Role
from tests.builders import CLOCK, Console, make_session

HANDLER = {"agent_id": CLOCK, "tool_name": "get_current_time", "kind": "static", "spec": {"output": "noon"}}


@pytest.fixture
async def browser(console: Console) -> AsyncIterator[httpx.AsyncClient]:
    """A client that proves who it is with an admin's session cookie only, as a browser would."""
    cookies = {"tooldesk_session": make_session(role=Role.ADMIN)}
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(nicegui_app), base_url="http://127.0.0.1:8080", cookies=cookies
    ) as client:
        yield client


async def test_cookie_write_with_foreign_origin_is_refused_and_changes_nothing(browser, console: Console):
    response = await browser.post("/api/handlers", json=HANDLER, headers={"origin": "http://evil.example"})
    assert response.status_code == 403
    assert response.json()["error"]["code"] == "forbidden"
    assert "Origin 'http://evil.example'" in response.json()["error"]["message"]
    assert await console.handlers() == {}


async def test_cookie_write_without_origin_or_referer_is_refused(browser, console: Console):
    response = await browser.post("/api/handlers", json=HANDLER)
    assert response.status_code == 403
    assert await console.handlers() == {}


async def test_cookie_write_with_foreign_referer_is_refused(browser, console: Console):
    response = await browser.post("/api/handlers", json=HANDLER, headers={"referer": "http://evil.example/page"})
    assert response.status_code == 403
    assert await console.handlers() == {}


async def test_cookie_write_with_console_origin_works(browser, console: Console):
    response = await browser.post("/api/handlers", json=HANDLER, headers={"origin": "http://127.0.0.1:8080"})
    assert response.status_code == 200, response.text
    assert set(await console.handlers()) == {"get_current_time"}


async def test_cookie_read_needs_no_origin(browser):
    assert (await browser.get("/api/runs")).status_code == 200


async def test_token_write_needs_no_origin(console: Console):
    await console.save_handler(**HANDLER)
    assert set(await console.handlers()) == {"get_current_time"}


async def test_cookie_skip_and_sim_faults_from_a_foreign_origin_change_nothing(browser, console: Console):
    """The new writes are under the same rule: a page elsewhere cannot skip a round with a person's cookie, and
    the embedded simulator's fault controls take no cookie at all (only its API key)."""
    task_id = await console.start(CLOCK, {"1": "UTC"})
    round_ = await console.pending_round(task_id)
    foreign = {"origin": "http://evil.example"}
    skipped = await browser.post(f"/api/rounds/{round_['id']}/skip", json={"reason": "x"}, headers=foreign)
    assert skipped.status_code == 403
    faults = await browser.post("/sim/_control/faults", json={"drop": 1.0}, headers=foreign)
    assert faults.status_code == 401
    assert [r["id"] for r in await console.pending(task_id)] == [round_["id"]]


async def test_write_with_foreign_origin_and_no_cookie_says_there_was_no_cookie(console: Console):
    """The refusal named "the sign-in cookie" for a request that sent none, which sends whoever reads it looking for
    a cookie that is not there."""
    async with httpx.AsyncClient(transport=httpx.ASGITransport(nicegui_app), base_url="http://127.0.0.1:8080") as bare:
        response = await bare.post("/api/handlers", json=HANDLER, headers={"origin": "http://evil.example"})
    assert response.status_code == 403
    message = response.json()["error"]["message"]
    assert "with no sign-in cookie and Origin 'http://evil.example'" in message
    assert await console.handlers() == {}
