"""The simulator served on its own: app assembly and the command line's error path."""

from __future__ import annotations

import base64
from pathlib import Path

import httpx
import pytest

from app.simulator import DEFAULT_SCENARIOS_DIR, build_standalone_app
from app.simulator.__main__ import main

SECRET = "whsec_" + base64.b64encode(b"standalone-secret-standalone-sec").decode()


async def test_build_standalone_app_serves_contract_paths_without_prefix() -> None:
    app = build_standalone_app(
        webhook_url="http://127.0.0.1:9/webhooks/sudoiq",
        secret=SECRET,
        api_key="k",
        scenarios_dir=DEFAULT_SCENARIOS_DIR,
    )

    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(
            transport=httpx.ASGITransport(app), base_url="http://sim.test", headers={"Authorization": "Bearer k"}
        ) as client,
    ):
        reply = await client.get("/v1/agents")

    assert reply.status_code == 200
    assert {agent["name"] for agent in reply.json()} == {"Clock", "Trip planner", "Flaky", "Weather compare"}


def test_build_standalone_app_bad_scenario_raises_value_error(tmp_path: Path) -> None:
    (tmp_path / "oops.json").write_text("[]", encoding="utf-8")

    with pytest.raises(ValueError, match=r"oops\.json"):
        build_standalone_app(webhook_url="http://x", secret=SECRET, api_key="k", scenarios_dir=tmp_path)


def test_build_standalone_app_bad_secret_raises_value_error() -> None:
    with pytest.raises(ValueError, match="whsec_"):
        build_standalone_app(webhook_url="http://x", secret="", api_key="k")


def test_main_bad_scenarios_dir_exits_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["--webhook-url", "http://x", "--secret", SECRET, "--scenarios", str(tmp_path / "none")])

    assert code == 2
    assert "no such scenarios directory" in capsys.readouterr().err
