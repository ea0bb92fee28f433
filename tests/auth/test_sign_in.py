"""Signing in with a password or the first-start link, failed attempts slowed down, the idle timeout, sign-out."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import httpx
import pytest
from nicegui import app as nicegui_app
from nicegui.testing import User
from sqlmodel import Session, select

from app.auth.throttle import FREE_FAILURES
from app.models import SignInSession
from app.runtime import get_runtime
from app.services import sign_in, users
from app.states import Role
from tests.builders import Console, make_session, set_value, settled


@pytest.fixture
def viewer(user: User) -> str:
    """A viewer named ``vera`` with a password, and the simulated user signed out."""
    users.add_user(engine=get_runtime().engine, name="vera", role=Role.VIEWER, password="correct horse")
    user.http_client.cookies.clear()
    return "vera"


async def _attempt(user: User, name: str, password: str) -> None:
    set_value(user, "signin-name", name)
    set_value(user, "signin-password", password)
    await settled(user.find(marker="signin").click, within=30)


async def test_sign_in_with_password_reaches_the_page_asked_for(user: User, viewer: str):
    await user.open("/runs")  # redirected to /signin?next=%2Fruns
    await user.should_see(marker="signin")
    await _attempt(user, viewer, "correct horse")
    await user.should_see("Runs", retries=50)
    await user.should_see(marker="sign-out")


async def test_sign_in_with_wrong_password_is_refused_then_slowed(user: User, viewer: str):
    await user.open("/signin")
    await _attempt(user, viewer, "wrong horse")
    await user.should_see("Wrong name or password", retries=50)
    await _attempt(user, viewer, "wrong horse")
    await user.should_see("Wrong name or password", retries=50)
    await _attempt(user, viewer, "wrong horse")
    await _attempt(user, viewer, "correct horse")  # right, but too soon after three failures
    await user.should_see("Too many failed sign-ins for this name or address: try again in", retries=50)
    await user.should_not_see(marker="sign-out")


def test_throttle_waits_per_name_and_per_address():
    from app.auth.throttle import SignInThrottle

    throttle = SignInThrottle()
    for _ in range(3):
        throttle.failed(name="vera", address="10.0.0.1", now=100.0)
    assert throttle.wait(name="vera", address="10.0.0.2", now=100.5) == pytest.approx(1.5)
    assert throttle.wait(name="other", address="10.0.0.1", now=100.5) == pytest.approx(1.5)
    assert throttle.wait(name="other", address="10.0.0.2", now=100.5) == 0
    assert throttle.wait(name="vera", address="10.0.0.2", now=102.5) == 0


async def test_sign_in_attempts_sent_side_by_side_are_slowed_too(
    user: User, viewer: str, monkeypatch: pytest.MonkeyPatch
):
    """Twenty clicks at once (a script guessing, many tabs): only the free failures' worth of passwords is checked
    and the others are told to wait. Each attempt counts from its start, not from the end of its password check
    (Argon2 in a thread), so attempts under way side by side see each other."""
    checked: list[str] = []
    real = users.check_password

    def counted(**kwargs: Any) -> Any:
        checked.append(kwargs["password"])
        time.sleep(0.05)  # a real check's time: the clicks after it arrive meanwhile
        return real(**kwargs)

    monkeypatch.setattr(users, "check_password", counted)
    await user.open("/signin")
    set_value(user, "signin-name", viewer)
    set_value(user, "signin-password", "wrong horse")
    button = user.find(marker="signin")
    for _ in range(20):
        button.click()
    await user.should_see("Too many failed sign-ins for this name or address: try again in", retries=50)
    await asyncio.sleep(0.5)  # every click's handler has ended

    assert len(checked) == FREE_FAILURES + 1  # the third failure sets the first wait


def test_a_right_password_takes_its_attempt_back_from_the_address():
    from app.auth.throttle import SignInThrottle

    throttle = SignInThrottle()
    for second in range(2):
        wait, started = throttle.start(name=f"user{second}", address="10.0.0.1", now=100.0 + second)
        assert wait == 0
        throttle.succeeded(name=f"user{second}", address="10.0.0.1", started=started)
    wait, _ = throttle.start(name="third", address="10.0.0.1", now=102.0)
    assert wait == 0  # two sign-ins that succeeded count nothing against the address
    assert throttle.start(name="third", address="10.0.0.2", now=102.1)[0] == 0
    assert throttle.start(name="third", address="10.0.0.3", now=102.2)[0] == 0
    assert throttle.start(name="third", address="10.0.0.4", now=102.3)[0] > 0  # three under way, none succeeded


async def test_first_start_link_signs_in_once(console: Console):
    engine = get_runtime().engine
    ticket = sign_in.issue_ticket(engine=engine, user_id=users.user_id(engine=engine, name="admin"), ttl=60)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(nicegui_app), base_url="http://127.0.0.1:8080") as bare:
        first = await bare.get(f"/signin/ticket?ticket={ticket}")
        assert first.status_code == 303 and first.headers["location"] == "/"
        cookie = first.headers["set-cookie"]
        assert "HttpOnly" in cookie and "SameSite=lax" in cookie and "Secure" not in cookie
        assert (await bare.get("/api/runs")).status_code == 200
        bare.cookies.clear()
        again = await bare.get(f"/signin/ticket?ticket={ticket}")
        assert again.headers["location"].startswith("/signin?problem=")
        assert (await bare.get("/api/runs")).status_code == 401


async def test_sign_in_link_opened_from_another_site_is_not_used(console: Console):
    """Login CSRF: a page on another site sends the browser to a ticket of its author's; the browser is not signed
    in, and the ticket is left for its owner, who opens it from the address bar (``Sec-Fetch-Site: none``)."""
    engine = get_runtime().engine
    ticket = sign_in.issue_ticket(engine=engine, user_id=users.user_id(engine=engine, name="admin"), ttl=60)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(nicegui_app), base_url="http://127.0.0.1:8080") as bare:
        for site in ("cross-site", "same-site"):
            refused = await bare.get(f"/signin/ticket?ticket={ticket}", headers={"Sec-Fetch-Site": site})
            assert refused.status_code == 303 and "set-cookie" not in refused.headers
            assert refused.headers["location"].startswith("/signin?problem=This%20sign-in%20link%20was%20opened")
            assert (await bare.get("/api/runs")).status_code == 401
        own = await bare.get(f"/signin/ticket?ticket={ticket}", headers={"Sec-Fetch-Site": "none"})
        assert own.status_code == 303 and own.headers["location"] == "/"
        assert (await bare.get("/api/runs")).status_code == 200


async def test_idle_session_is_ended(console: Console):
    cookie = make_session(role=Role.VIEWER)
    engine = get_runtime().engine
    with Session(engine) as session:
        for row in session.exec(select(SignInSession)):
            row.last_seen_at = time.time() - get_runtime().settings.session_idle_timeout - 1
            session.add(row)
        session.commit()
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(nicegui_app),
        base_url="http://127.0.0.1:8080",
        cookies={"tooldesk_session": cookie},
    ) as bare:
        assert (await bare.get("/api/runs")).status_code == 401
        assert (await bare.get("/runs")).headers["location"] == "/signin?next=%2Fruns"


async def test_sign_out_ends_the_session(user: User):
    await user.open("/")
    cookie = user.http_client.cookies.get("tooldesk_session")
    user.find(marker="sign-out").click()
    await user.should_see(marker="signin", retries=50)
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(nicegui_app),
        base_url="http://127.0.0.1:8080",
        cookies={"tooldesk_session": cookie},
    ) as bare:
        assert (await bare.get("/api/runs")).status_code == 401
