"""The Users and tokens page: users and tokens made in the UI, the webhook secret masked; and sign-in off."""

from __future__ import annotations

import pytest
from nicegui.testing import User

from app.runtime import get_runtime
from app.services import tokens, users
from tests.builders import SECRET, Console, set_value, settled


async def test_create_token_in_the_ui_shows_it_once_and_it_works(user: User, console: Console):
    await user.open("/users")
    set_value(user, "token-name", "nightly")
    await settled(user.find(marker="create-token").click)
    token = user.find(marker="new-token").elements.pop().value
    assert token.startswith("td_")
    listed = [t for t in tokens.list_tokens(engine=get_runtime().engine) if t.name == "nightly"]
    assert [t.role for t in listed] == ["answerer"]
    response = await console.get("/api/runs", headers={"authorization": f"Bearer {token}"})
    assert response.status_code == 200


async def test_add_user_in_the_ui(user: User):
    await user.open("/users")
    set_value(user, "user-name", "ana")
    set_value(user, "user-password", "long enough password")
    await settled(user.find(marker="add-user").click)
    await user.should_see(marker="remove-user-ana")
    assert users.check_password(engine=get_runtime().engine, name="ana", password="long enough password")


async def test_webhook_secret_is_shown_masked_to_admins(user: User):
    await user.open("/users")
    await user.should_see(marker="webhook-secret")
    await user.should_see(SECRET[-4:])
    await user.should_not_see(SECRET)


@pytest.fixture
def sign_in_off(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TOOLDESK_AUTH", "off")


async def test_sign_in_off_lets_everyone_in_as_admin_and_says_so(sign_in_off: None, user: User):
    user.http_client.cookies.clear()
    await user.open("/")
    await user.should_see(marker="sign-in-off")
    await user.should_not_see(marker="sign-out")
