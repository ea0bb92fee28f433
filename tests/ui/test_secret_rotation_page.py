"""The Rotate button on the Users and tokens page (README, "Security")."""

from __future__ import annotations

import pytest
from nicegui.testing import User

from app.runtime import get_runtime
from tests.builders import settled


@pytest.fixture
def generated_secret(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("TOOLDESK_WEBHOOK_SECRET")


async def test_rotate_button_rotates_and_shows_new_secret_masked(generated_secret: None, user: User):
    old = get_runtime().secret
    await user.open("/users")
    await user.should_see(old[-4:])
    await settled(user.find(marker="rotate-secret").click)
    await settled(user.find(marker="confirm-rotate").click)
    new = get_runtime().secret
    assert new != old
    await user.should_see(new[-4:], marker="webhook-secret")
    await user.should_see(marker="previous-secret")
    await user.should_see("accepted until")
    await user.should_not_see(new)
    await user.should_not_see(old)


async def test_rotate_button_absent_when_secret_set_by_environment(user: User):
    await user.open("/users")
    await user.should_see(marker="secret-from-env")
    await user.should_not_see(marker="rotate-secret")
