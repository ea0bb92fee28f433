"""Shared fixtures: a fresh database and settings per test, and an HTTP client on the console's ASGI app."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from nicegui import app as nicegui_app
from nicegui.testing import User

from app.changes import changes
from app.config import get_settings
from app.runtime import Runtime, get_runtime
from tests.builders import SECRET, Console


@pytest.fixture(autouse=True)
def settings_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Every test gets its own SQLite file, a known secret, an instant simulator and a short retry schedule."""
    for name in ("PLATFORM_URL", "PUBLIC_URL", "PORT", "HOST"):
        monkeypatch.delenv(f"TOOLDESK_{name}", raising=False)
    monkeypatch.setenv("TOOLDESK_DATABASE_URL", f"sqlite:///{tmp_path}/tooldesk.db")
    monkeypatch.setenv("TOOLDESK_WEBHOOK_SECRET", SECRET)
    monkeypatch.setenv("TOOLDESK_STEP_DELAY", "0")
    monkeypatch.setenv("TOOLDESK_RETRY_SCHEDULE", "0.05,0.1,0.2")
    monkeypatch.setenv("TOOLDESK_OUTBOX_RETRY", "0.05")
    monkeypatch.chdir(tmp_path)
    get_settings.cache_clear()
    changes.callbacks.clear()
    yield
    changes.callbacks.clear()
    get_settings.cache_clear()


@pytest.fixture
async def console(user: User) -> AsyncIterator[Console]:
    """An HTTP client on the running console (NiceGUI's user simulation has started it), with its common steps."""
    async with Console(transport=httpx.ASGITransport(nicegui_app), base_url="http://127.0.0.1:8080") as c:
        yield c


@pytest.fixture
def runtime(console: Console) -> Runtime:
    return get_runtime()
