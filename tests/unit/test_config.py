"""Settings: defaults, and bad values named."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import httpx
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
        ("TOOLDESK_PLATFORM_URL", "http://[::1", "Invalid IPv6 URL"),
        ("TOOLDESK_PUBLIC_URL", "http://[::1", "Invalid IPv6 URL"),
        ("TOOLDESK_PUBLIC_URL", "http://tooldesk.example:99999", "Port out of range"),
        ("TOOLDESK_PUBLIC_URL", "http://:8080", "no host"),
        ("TOOLDESK_DATABASE_URL", "mysql://db/tooldesk", "postgresql+psycopg://"),
        ("TOOLDESK_DATABASE_URL", "postgresql://db", "database name"),
        ("TOOLDESK_RETRY_SCHEDULE", "1,soon", "seconds separated by commas"),
        ("TOOLDESK_SCENARIOS_DIR", "/no/such/folder", "not a folder"),
        ("TOOLDESK_TRUSTED_PROXIES", "10.0.0.1, proxy.local", "'proxy.local' is neither"),
    ],
)
def test_settings_bad_value_names_setting(monkeypatch: pytest.MonkeyPatch, name: str, value: str, words: str):
    monkeypatch.setenv(name, value)
    with pytest.raises(SettingsError) as error:
        get_settings()
    assert name in str(error.value) and words in str(error.value)


@pytest.mark.parametrize("written", ["postgresql+psycopg://", "postgresql://", "postgres://"])
def test_settings_postgresql_url_read_with_psycopg(monkeypatch: pytest.MonkeyPatch, written: str):
    monkeypatch.setenv("TOOLDESK_DATABASE_URL", f"{written}td:hunter2@db.example:5433/tooldesk")
    settings = get_settings()
    assert settings.database_url == "postgresql+psycopg://td:hunter2@db.example:5433/tooldesk"
    assert not settings.database_is_sqlite
    assert settings.database_label == "postgresql+psycopg://td:***@db.example:5433/tooldesk"


def test_settings_bad_postgresql_url_never_echoes_its_password(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("TOOLDESK_DATABASE_URL", "postgresql://td:hunter2@db.example:5433")
    with pytest.raises(SettingsError) as raised:
        get_settings()
    assert "TOOLDESK_DATABASE_URL" in str(raised.value) and "database name" in str(raised.value)
    assert "hunter2" not in str(raised.value)


@pytest.mark.parametrize(
    "url",
    ["postgresql+psycopg://postgres:p@ss:w/rd#1?@127.0.0.1:55441/td", "postgresql://td:hunter2@db.example:abc/td"],
    ids=["password-not-percent-encoded", "port-not-a-number"],
)
def test_settings_unreadable_postgresql_url_says_percent_encode_never_echoing_it(
    monkeypatch: pytest.MonkeyPatch, url: str
):
    """Regression: ValueError traceback from make_url, the end of the password in pydantic's message."""
    monkeypatch.setenv("TOOLDESK_DATABASE_URL", url)
    with pytest.raises(SettingsError) as raised:
        get_settings()
    message = str(raised.value)
    assert "TOOLDESK_DATABASE_URL" in message and "percent-encode" in message and "\n" not in message
    assert "rd#1" not in message and "hunter2" not in message and "127.0.0.1" not in message


def test_settings_bad_secret_never_echoed(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("TOOLDESK_WEBHOOK_SECRET", "whsec_hunter2hunter2")
    with pytest.raises(SettingsError) as raised:
        get_settings()
    assert "TOOLDESK_WEBHOOK_SECRET" in str(raised.value)
    assert "hunter2" not in str(raised.value)
    assert "not shown" in str(raised.value)


ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("TOOLDESK_ROUND_TTL", "inf"),  # accepted; the simulator's timedelta(seconds=inf) then kills every run silently
        ("TOOLDESK_PLATFORM_API_KEY", "clé"),  # accepted; every platform call then dies in header encoding (500)
        ("TOOLDESK_DATABASE_URL", "sqlite:///"),  # accepted as an in-memory DB: "no such table" on every request
    ],
    ids=["round_ttl-inf", "api_key-non-ascii", "database_url-empty-path"],
)
def test_settings_bad_value_refused_naming_it(monkeypatch: pytest.MonkeyPatch, name: str, value: str):
    monkeypatch.setenv(name, value)
    with pytest.raises(SettingsError) as error:
        get_settings()
    assert name in str(error.value)


def test_settings_ipv6_host_gives_valid_urls(monkeypatch: pytest.MonkeyPatch):
    """``TOOLDESK_HOST=::1`` is accepted, then ``http://::1:8080`` is built: httpx.InvalidURL traceback at
    start and no platform call works. Either bracket it or refuse the value at start-up."""
    monkeypatch.setenv("TOOLDESK_HOST", "::1")
    try:
        settings = get_settings()
    except SettingsError as error:
        assert "TOOLDESK_HOST" in str(error)
        return
    assert httpx.URL(settings.api_base_url).host == "::1"
    assert httpx.URL(settings.webhook_url).host == "::1"


def test_start_unusable_database_path_exits_2_with_one_line(tmp_path: Path):
    """Regression: FileExistsError / NotADirectoryError traceback from make_engine, exit status 1."""
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    env = {k: v for k, v in os.environ.items() if not k.startswith("TOOLDESK_")} | {
        "TOOLDESK_DATABASE_URL": f"sqlite:///{blocker}/tooldesk.db",
        "TOOLDESK_PORT": "18999",
    }
    done = subprocess.run(
        [sys.executable, "-m", "app"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode == 2, done.stderr[-500:]
    assert "Traceback" not in done.stderr
    assert "TOOLDESK_DATABASE_URL" in done.stderr


def test_start_port_in_use_exits_2_with_one_line(tmp_path: Path):
    import socket

    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        env = {k: v for k, v in os.environ.items() if not k.startswith("TOOLDESK_")} | {
            "TOOLDESK_DATABASE_URL": f"sqlite:///{tmp_path}/t.db",
            "TOOLDESK_PORT": str(port),
        }
        done = subprocess.run(
            [sys.executable, "-m", "app"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60, check=False
        )
    assert done.returncode == 2
    assert f"cannot listen on 127.0.0.1:{port}" in done.stderr
    assert "Traceback" not in done.stderr


@pytest.mark.parametrize(
    ("host", "public_url", "opened_at"),
    [
        ("0.0.0.0", "", "http://127.0.0.1:9100"),  # no browser opens 0.0.0.0, and the Host check refuses it
        ("::", "", "http://127.0.0.1:9100"),
        ("127.0.0.1", "", "http://127.0.0.1:9100"),
        ("0.0.0.0", "https://desk.example.com", "https://desk.example.com"),
    ],
)
def test_sign_in_link_uses_an_address_a_browser_opens(
    monkeypatch: pytest.MonkeyPatch, host: str, public_url: str, opened_at: str
):
    from app.guard import allowed_hosts
    from app.main import browser_base_url

    monkeypatch.setenv("TOOLDESK_PORT", "9100")
    monkeypatch.setenv("TOOLDESK_HOST", host)
    monkeypatch.setenv("TOOLDESK_PUBLIC_URL", public_url)
    settings = get_settings()

    assert browser_base_url(settings) == opened_at
    assert httpx.URL(opened_at).host in allowed_hosts(settings)


def test_trusted_proxies_read_as_addresses_and_networks(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("TOOLDESK_TRUSTED_PROXIES", " 10.0.0.1, 192.168.0.0/16 ,::1 ")
    assert get_settings().trusted_proxies == "10.0.0.1,192.168.0.0/16,::1"
