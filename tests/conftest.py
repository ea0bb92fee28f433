"""Shared fixtures: a fresh database and settings per test, and an HTTP client on the console's ASGI app."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from pathlib import Path

import httpx
import pytest
from nicegui import app as nicegui_app
from nicegui.testing import User

from app.changes import changes
from app.config import get_settings
from app.runtime import Runtime, get_runtime
from app.states import Role
from tests.builders import SECRET, Console, make_token, sign_in_user


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
async def user(user: User) -> User:
    """NiceGUI's simulated user, signed in as an admin (tests about roles and sign-in make their own users)."""
    sign_in_user(user, role=Role.ADMIN)
    return user


@pytest.fixture
def create_user(create_user: Callable[[], User]) -> Callable[[], User]:
    """NiceGUI's factory of further simulated users (other tabs), each signed in as an admin."""

    def make() -> User:
        made = create_user()
        sign_in_user(made, role=Role.ADMIN)
        return made

    return make


@pytest.fixture
async def console(user: User) -> AsyncIterator[Console]:
    """An HTTP client on the running console (NiceGUI's user simulation has started it), with its common steps;
    it sends an admin's API token."""
    token = make_token(role=Role.ADMIN)
    async with Console(
        transport=httpx.ASGITransport(nicegui_app),
        base_url="http://127.0.0.1:8080",
        headers={"Authorization": f"Bearer {token}"},
    ) as c:
        yield c


@pytest.fixture
def runtime(console: Console) -> Runtime:
    return get_runtime()
