"""Browser protections: only the console's own Host names are answered, and every answer carries security headers."""

from __future__ import annotations

import pytest

from app.config import Settings
from app.guard import allowed_hosts
from tests.builders import Console


@pytest.mark.parametrize("path", ["/api/runs", "/", "/webhooks/sudoiq", "/docs"])
async def test_foreign_host_refused(console: Console, path: str):
    response = await console.get(path, headers={"host": "evil.example"})
    assert response.status_code == 400
    assert "Invalid host header" in response.text
    assert "frame-ancestors 'none'" in response.headers["content-security-policy"]


@pytest.mark.parametrize("path", ["/api/runs", "/webhooks/sudoiq"])
async def test_foreign_host_refused_in_error_shape(console: Console, path: str):
    response = await console.post(path, json={}, headers={"host": "evil.example"})
    assert response.status_code == 400
    assert response.headers["content-type"] == "application/json"
    error = response.json()["error"]
    assert error["code"] == "bad_host"
    assert error["message"].startswith("Invalid host header: evil.example is not a name of this console")


async def test_webhook_refused_for_its_host_is_logged_once_a_minute(
    console: Console, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
):
    """A platform calling a name the console does not answer to: nothing is stored (the request is refused before
    it is read), so the log says why, once a minute per name rather than once a delivery."""
    from app import guard

    monkeypatch.setattr(guard, "_host_warned", {})
    caplog.set_level("WARNING", logger="tooldesk")
    for _ in range(3):
        response = await console.post("/webhooks/sudoiq", json={}, headers={"host": "tooldesk.internal"})
        assert response.status_code == 400
    await console.post("/api/runs", json={}, headers={"host": "api.example"})  # not a webhook: no line

    lines = [record.getMessage() for record in caplog.records if "bad_host" in record.getMessage()]
    assert len(lines) == 1
    assert "tooldesk.internal is not a name of this console" in lines[0]
    assert "TOOLDESK_PUBLIC_URL" in lines[0]


@pytest.mark.parametrize("host", ["127.0.0.1:8080", "localhost:8080", "[::1]:8080", "LOCALHOST"])
async def test_loopback_host_answered(console: Console, host: str):
    assert (await console.get("/api/runs", headers={"host": host})).status_code == 200


async def test_rebound_post_refused_before_anything_is_done(console: Console):
    response = await console.post("/api/demo", json={}, headers={"host": "evil.example:8080"})
    assert response.status_code == 400
    assert (await console.get("/api/runs")).json()["total"] == 0


@pytest.mark.parametrize("path", ["/api/runs", "/", "/runs"])
async def test_answers_carry_security_headers(console: Console, path: str):
    headers = (await console.get(path)).headers
    assert headers["x-content-type-options"] == "nosniff"
    assert headers["x-frame-options"] == "DENY"
    assert headers["referrer-policy"] == "same-origin"
    policy = headers["content-security-policy"]
    assert "frame-ancestors 'none'" in policy and "default-src 'self'" in policy
    assert "cdn.jsdelivr.net" not in policy


async def test_docs_policy_allows_swagger_cdn(console: Console):
    response = await console.get("/docs")
    assert response.status_code == 200
    assert "https://cdn.jsdelivr.net" in response.headers["content-security-policy"]


def test_allowed_hosts_public_url_and_specific_address(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.delenv("NICEGUI_USER_SIMULATION", raising=False)
    settings = Settings(host="0.0.0.0", public_url="https://Tooldesk.example.com:8443/")
    assert allowed_hosts(settings) == ["localhost", "127.0.0.1", "[::1]", "tooldesk.example.com"]
    assert "10.0.0.5" in allowed_hosts(Settings(host="10.0.0.5"))
    assert "[fd00::5]" in allowed_hosts(Settings(host="fd00::5"))
