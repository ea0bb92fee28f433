"""The audit: every change to handlers, modes, settings, users and tokens is listed with who made it and when."""

from __future__ import annotations

import httpx
import pytest
from nicegui import app as nicegui_app

from app.runtime import Runtime
from app.services import agents, audit, tokens, users
from app.states import Role
from tests.builders import CLOCK, Console, make_token, wait_for


def _client(token: str) -> Console:
    return Console(
        transport=httpx.ASGITransport(nicegui_app),
        base_url="http://127.0.0.1:8080",
        headers={"Authorization": f"Bearer {token}"},
    )


async def _audit(console: Console) -> list[dict]:
    response = await console.get("/api/audit")
    assert response.status_code == 200, response.text
    return list(response.json()["entries"])


async def test_handler_changes_by_a_token_are_listed_newest_first_with_its_name(console: Console, runtime: Runtime):
    await wait_for(lambda: agents.list_agents(engine=runtime.engine), within=30.0)  # the start-up sync names Clock
    async with _client(make_token(role=Role.ADMIN, name="ci-bot")) as bot:
        saved = await bot.save_handler(
            agent_id=CLOCK, tool_name="get_current_time", kind="static", spec={"output": "1"}
        )
        await bot.put(f"/api/handlers/{saved['id']}/mode", json={"mode": "auto"})
        await bot.post(f"/api/handlers/{saved['id']}/versions/1/restore", json={})
        await bot.delete(f"/api/handlers/{saved['id']}")

    entries = [e for e in await _audit(console) if e["action"].startswith(("handler", "mode"))]
    assert [(e["who"], e["action"]) for e in entries] == [
        ("token ci-bot", "handler_deleted"),
        ("token ci-bot", "handler_restored"),
        ("token ci-bot", "mode_changed"),
        ("token ci-bot", "handler_saved"),
    ]
    assert entries[-1]["detail"] == "Clock · get_current_time v1 (static, manual)"
    assert entries[-2]["detail"] == "Clock · get_current_time v2 (static, auto): mode manual → auto"


async def test_config_import_is_listed_per_handler(console: Console, runtime: Runtime):
    await wait_for(lambda: agents.list_agents(engine=runtime.engine), within=30.0)
    await console.save_handler(agent_id=CLOCK, tool_name="get_current_time", kind="static", spec={"output": "1"})
    document = (await console.get("/api/config")).json()
    document["handlers"][0]["spec"] = {"output": "2", "is_error": False}
    response = await console.post("/api/config", json=document)
    assert response.status_code == 200, response.text
    newest = (await _audit(console))[0]
    assert (newest["who"], newest["action"]) == ("token tests", "handler_imported")
    assert newest["detail"].startswith("Clock · get_current_time v2")


async def test_viewer_reads_the_audit_and_unchanged_saves_add_no_line(console: Console):
    await console.save_handler(agent_id=CLOCK, tool_name="get_current_time", kind="static", spec={"output": "1"})
    await console.save_handler(agent_id=CLOCK, tool_name="get_current_time", kind="static", spec={"output": "1"})
    async with _client(make_token(role=Role.VIEWER, name="reader")) as reader:
        response = await reader.get("/api/audit", params={"limit": 10})
    assert response.status_code == 200, response.text
    handler_lines = [e for e in response.json()["entries"] if e["action"].startswith("handler")]
    assert len(handler_lines) == 1

    async with _client(make_token(role=Role.VIEWER, name="pager")) as reader:
        first = (await reader.get("/api/audit", params={"limit": 1})).json()
        second = (await reader.get("/api/audit", params={"limit": 1, "offset": 1})).json()
        refused = await reader.get("/api/audit", params={"limit": 0})
    assert first["total"] == second["total"] >= 2
    assert first["entries"][0]["id"] > second["entries"][0]["id"]
    assert refused.status_code == 422


async def test_users_and_tokens_are_listed_with_who_changed_them(runtime: Runtime):
    engine = runtime.engine
    with audit.acting("ops"):
        users.add_user(engine=engine, name="dana", role=Role.ANSWERER)
        users.set_password(engine=engine, name="dana", password="long enough password")
        listed, _token = tokens.create_token(engine=engine, name="nightly", role=Role.VIEWER, created_by="ops")
        tokens.revoke_token(engine=engine, token_id=listed.id)
        users.remove_user(engine=engine, name="dana")
    entries, _total = audit.list_audit(engine=engine, limit=5)
    assert [(e.who, e.action, e.detail) for e in reversed(entries)] == [
        ("ops", "user_added", "dana (answerer)"),
        ("ops", "user_changed", "password of dana set"),
        ("ops", "token_created", "nightly (viewer)"),
        ("ops", "token_revoked", f"nightly (viewer, {listed.prefix}…)"),
        ("ops", "user_removed", "dana (answerer)"),
    ]


@pytest.fixture
def generated_secret(monkeypatch: pytest.MonkeyPatch) -> None:
    """The webhook secret is the console's own (not set by TOOLDESK_WEBHOOK_SECRET), so it may be rotated."""
    monkeypatch.delenv("TOOLDESK_WEBHOOK_SECRET")


async def test_secret_rotation_is_listed_with_who_and_until_when(generated_secret: None, console: Console):
    response = await console.post("/api/webhook-secret/rotate", json={"window_seconds": 600})
    assert response.status_code == 200, response.text
    newest = (await _audit(console))[0]
    assert (newest["who"], newest["action"]) == ("token tests", "secret_rotated")
    assert newest["detail"].startswith("webhook secret rotated; the previous one is accepted until 20")
    assert "whsec_" not in newest["detail"]
