"""Settings: defaults, and bad values named."""

from __future__ import annotations

import pytest

from app.config import get_settings
from app.errors import SettingsError


def test_settings_default_public_url_uses_port(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("TOOLDESK_PORT", "9100")
    settings = get_settings()
    assert settings.webhook_url == "http://127.0.0.1:9100/webhooks/sudoiq"
    assert settings.api_base_url == "http://127.0.0.1:9100/sim"


@pytest.mark.parametrize(
    ("name", "value", "words"),
    [
        ("TOOLDESK_PORT", "eighty", "TOOLDESK_PORT"),
        ("TOOLDESK_PORT", "70000", "TOOLDESK_PORT"),
        ("TOOLDESK_WEBHOOK_SECRET", "hunter2", "whsec_"),
        ("TOOLDESK_WEBHOOK_SECRET", "whsec_c2hvcnQ=", "at least 16"),
        ("TOOLDESK_PLATFORM_URL", "ftp://x", "http://"),
        ("TOOLDESK_DATABASE_URL", "postgresql://x", "SQLite"),
        ("TOOLDESK_RETRY_SCHEDULE", "1,soon", "seconds separated by commas"),
        ("TOOLDESK_SCENARIOS_DIR", "/no/such/folder", "not a folder"),
    ],
)
def test_settings_bad_value_names_setting(monkeypatch: pytest.MonkeyPatch, name: str, value: str, words: str):
    monkeypatch.setenv(name, value)
    with pytest.raises(SettingsError) as error:
        get_settings()
    assert name in str(error.value) and words in str(error.value)


def test_settings_bad_secret_never_echoed(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("TOOLDESK_WEBHOOK_SECRET", "whsec_hunter2hunter2")
    with pytest.raises(SettingsError) as raised:
        get_settings()
    assert "TOOLDESK_WEBHOOK_SECRET" in str(raised.value)
    assert "hunter2" not in str(raised.value)
    assert "not shown" in str(raised.value)
