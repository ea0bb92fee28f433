"""Shared fixtures: a fresh database and settings per test, and an HTTP client on the console's ASGI app."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

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
    return patient(user)


@pytest.fixture
def create_user(create_user: Callable[[], User]) -> Callable[[], User]:
    """NiceGUI's factory of further simulated users (other tabs), each signed in as an admin."""

    def make() -> User:
        made = create_user()
        sign_in_user(made, role=Role.ADMIN)
        return patient(made)

    return make


SEE_RETRIES = 100  # about 10 s for should_see, 5 s for should_not_see


def patient(user: User) -> User:
    """``user`` whose ``should_see`` and ``should_not_see`` look ``SEE_RETRIES`` times unless a test says how often.

    NiceGUI's default is 3 looks 0.1 s apart: a card drawn by a live push or a background task then fails the test
    when the machine is busy (two test processes on two cores, CI), although a person would see it a moment later.
    Both still return at the first look that holds, so a passing test is as fast as before, and what they assert is
    unchanged: the element shows (or is gone) on the page.
    """
    see, not_see = user.should_see, user.should_not_see

    async def should_see(*args: Any, retries: int = SEE_RETRIES, **kwargs: Any) -> None:
        await see(*args, retries=retries, **kwargs)

    async def should_not_see(*args: Any, retries: int = SEE_RETRIES, **kwargs: Any) -> None:
        await not_see(*args, retries=retries, **kwargs)

    user.should_see = should_see  # type: ignore[method-assign]
    user.should_not_see = should_not_see  # type: ignore[method-assign]
    return user


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
