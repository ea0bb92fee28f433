"""``compose.yaml``: the console built from the ``Dockerfile`` beside a PostgreSQL service whose database it uses,
started once that server is healthy; its settings are ones the console starts with."""

from __future__ import annotations

import re
from typing import Any

import pytest
import yaml

from app.config import Settings
from tests.deploy.dockerfile import ROOT


def _compose() -> dict[str, Any]:
    return dict(yaml.safe_load((ROOT / "compose.yaml").read_text()))


def _defaults(value: str) -> str:
    """A compose value with each ``${NAME:-default}`` replaced by its default, as compose does with NAME unset."""
    return re.sub(r"\$\{[A-Z_]+:-([^}]*)\}", r"\1", value)


def test_compose_console_uses_the_postgres_service_once_it_is_healthy():
    services = _compose()["services"]
    console, postgres = services["console"], services["postgres"]
    assert console["build"] == "."
    assert "8080:8080" in console["ports"]
    url = _defaults(console["environment"]["TOOLDESK_DATABASE_URL"])
    environment = postgres["environment"]
    user, password, database = (
        environment["POSTGRES_USER"],
        _defaults(environment["POSTGRES_PASSWORD"]),
        environment["POSTGRES_DB"],
    )
    assert url == f"postgresql+psycopg://{user}:{password}@postgres:5432/{database}"
    assert console["depends_on"]["postgres"]["condition"] == "service_healthy"
    assert "pg_isready" in postgres["healthcheck"]["test"]
    assert any(volume.endswith(":/var/lib/postgresql/data") for volume in postgres["volumes"])


def test_compose_console_settings_are_accepted(monkeypatch: pytest.MonkeyPatch):
    environment = _compose()["services"]["console"]["environment"]
    for name, value in environment.items():
        monkeypatch.setenv(name, _defaults(value))
    monkeypatch.setenv("TOOLDESK_HOST", "0.0.0.0")  # the image's ENV
    settings = Settings()
    assert settings.public_url == "http://localhost:8080"
    assert settings.database_url == "postgresql+psycopg://tooldesk:tooldesk@postgres:5432/tooldesk"
