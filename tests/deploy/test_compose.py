"""``compose.yaml``: the console built from the ``Dockerfile`` with its data on a volume at ``/data``, beside a
PostgreSQL service; its settings are ones the console starts with today."""

from __future__ import annotations

from typing import Any

import pytest
import yaml

from app.config import Settings
from tests.deploy.dockerfile import ROOT


def _compose() -> dict[str, Any]:
    return dict(yaml.safe_load((ROOT / "compose.yaml").read_text()))


def test_compose_console_keeps_its_data_on_the_volume():
    services = _compose()["services"]
    console = services["console"]
    assert console["build"] == "."
    assert "8080:8080" in console["ports"]
    assert any(volume.endswith(":/data") for volume in console["volumes"])
    assert "pg_isready" in services["postgres"]["healthcheck"]["test"]


def test_compose_console_settings_are_accepted(monkeypatch: pytest.MonkeyPatch):
    environment = _compose()["services"]["console"]["environment"]
    for name, value in environment.items():
        monkeypatch.setenv(name, value.replace("${TOOLDESK_PUBLIC_URL:-", "").rstrip("}"))
    monkeypatch.setenv("TOOLDESK_DATABASE_URL", "sqlite:////data/tooldesk.db")  # the image's ENV
    monkeypatch.setenv("TOOLDESK_HOST", "0.0.0.0")
    settings = Settings()
    assert settings.public_url == "http://localhost:8080"
    assert settings.database_path == "/data/tooldesk.db"
