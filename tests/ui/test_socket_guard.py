"""Socket.IO messages of the wrong shape from a browser are dropped with one warning line, never a traceback, and
the page goes on working; well-formed ones reach NiceGUI as before."""

from __future__ import annotations

import json
import logging

import pytest
from nicegui import core
from nicegui.testing import User

BAD_EVENTS = [
    {"client_id": "x", "id": 1, "listener_id": "l", "args": ["[" * 100_000 + "]" * 100_000]},  # nested too deep
    {"client_id": "x", "id": 1, "listener_id": "l", "args": ["0" * 1_000_001]},
    "not an object",
    ["a", "list"],
    {},
    {"client_id": 7},
    {"client_id": "x", "id": "1", "listener_id": "l"},
    {"client_id": "x", "id": True, "listener_id": "l"},
    {"client_id": "x", "id": 1},
    {"client_id": "x", "id": 1, "listener_id": "l", "args": "not a list"},
    {"client_id": "x", "id": 1, "listener_id": "l", "args": [5]},
    {"client_id": "x", "id": 1, "listener_id": "l", "args": ["{not json"]},
]


def _handler(name: str):
    return core.sio.handlers["/"][name]


async def _page(user: User) -> tuple[str, int, str]:
    """The Inbox, open; its client id and the element and listener of the Runs button (a click navigates)."""
    await user.open("/")
    await user.should_see("Runs")
    button = next(iter(user.find("Runs").elements))
    listener = next(iter(button._event_listeners))
    return user.client.id, button.id, listener


async def test_malformed_events_are_dropped_with_a_warning_and_no_traceback(
    user: User, caplog: pytest.LogCaptureFixture
):
    client_id, element_id, _ = await _page(user)
    unknown_listener = {"client_id": client_id, "id": element_id, "listener_id": "nope", "args": []}
    with caplog.at_level(logging.WARNING):
        for message in [*BAD_EVENTS, unknown_listener]:
            _handler("event")("sid-1", message)
        _handler("event")("sid-1")  # no argument at all
        _handler("event")("sid-1", unknown_listener, "a second argument")
        _handler("javascript_response")("sid-1", {"client_id": client_id})
        _handler("javascript_response")("sid-1", None)
        _handler("ack")("sid-1", {"client_id": client_id, "next_message_id": "many"})
        _handler("ack")("sid-1", 3)
    dropped = [r for r in caplog.records if "dropped a" in r.getMessage()]
    assert len(dropped) == len(BAD_EVENTS) + 7
    assert all(r.exc_info is None and r.levelno == logging.WARNING for r in caplog.records)
    await user.should_see("Runs")  # the page is still there


async def test_a_well_formed_event_from_a_socket_of_another_page_is_dropped(
    user: User, caplog: pytest.LogCaptureFixture
):
    """NiceGUI takes the page from the message alone; a socket acts only on the page it did the handshake of."""
    client_id, element_id, listener = await _page(user)
    await core.sio.manager.enter_room("sid-other", "/", "another-page", eio_sid="eio-other")
    message = {"client_id": client_id, "id": element_id, "listener_id": listener, "args": [json.dumps(None)]}
    try:
        with caplog.at_level(logging.WARNING):
            _handler("event")("sid-other", message)
    finally:
        await core.sio.manager.leave_room("sid-other", "/", "another-page")
    assert any("not connected to" in r.getMessage() for r in caplog.records)
    await user.should_not_see("Search", retries=10)  # the click did not happen: still the Inbox


async def test_a_well_formed_event_from_the_page_s_own_socket_reaches_it(user: User):
    client_id, element_id, listener = await _page(user)
    await core.sio.manager.enter_room("sid-own", "/", client_id, eio_sid="eio-own")
    try:
        _handler("event")(
            "sid-own", {"client_id": client_id, "id": element_id, "listener_id": listener, "args": [json.dumps(None)]}
        )
        await user.should_see("Search")  # the Runs button's click: the Runs page
    finally:
        await core.sio.manager.leave_room("sid-own", "/", client_id)


async def test_a_well_formed_event_still_reaches_the_page(user: User):
    """The tests' simulated user has no socket: its ids start with ``test-``."""
    client_id, element_id, listener = await _page(user)
    _handler("event")(
        "test-sid", {"client_id": client_id, "id": element_id, "listener_id": listener, "args": [json.dumps(None)]}
    )
    await user.should_see("Search")  # the Runs button's click: the Runs page


def test_installing_twice_wraps_once():
    from app.ui import socket_guard

    before = _handler("event")
    socket_guard.install()
    assert _handler("event") is before


async def test_a_browser_log_line_is_quoted_at_debug_and_bad_ones_are_dropped(
    user: User, caplog: pytest.LogCaptureFixture
):
    """A page's script can send anything: what it reports goes to a logger of its own, at DEBUG, as one quoted
    line of bounded length, never at the level it asks for (a forged ERROR line, a flood of megabytes)."""
    from app.ui.socket_guard import LOG_CHARS

    client_id, _, _ = await _page(user)
    with caplog.at_level(logging.DEBUG, logger="app.ui.socket_guard"):
        _handler("log")("test-sid", {"client_id": client_id, "level": "error", "message": "a\nERROR forged line"})
        _handler("log")("test-sid", {"client_id": client_id, "level": "info", "message": "x" * (LOG_CHARS * 5)})
        _handler("log")("test-sid", {"client_id": client_id, "level": "critical", "message": "no such level"})
        _handler("log")("test-sid", {"client_id": client_id, "level": "error"})
    said = [r for r in caplog.records if r.name == "app.ui.socket_guard.browser"]
    assert [r.levelno for r in said] == [logging.DEBUG, logging.DEBUG]
    assert said[0].getMessage() == f"page {client_id}, error: 'a\\nERROR forged line'"
    assert len(said[1].getMessage()) < LOG_CHARS + 100 and said[1].getMessage().endswith(
        f"({LOG_CHARS * 5:,} characters)"
    )
    assert not any(r.levelno >= logging.ERROR for r in caplog.records)
    assert sum("dropped a 'log'" in r.getMessage() for r in caplog.records) == 2


async def test_malformed_handshakes_are_refused_without_a_traceback(user: User, caplog: pytest.LogCaptureFixture):
    await _page(user)
    handshake = _handler("handshake")
    with caplog.at_level(logging.WARNING):
        for message in (
            None,
            "x",
            {},
            {"client_id": "c", "tab_id": 1, "document_id": "d"},
            {"client_id": "c", "tab_id": "t", "document_id": "d", "next_message_id": "many"},
            {"client_id": "c", "tab_id": "t", "document_id": "d", "old_tab_id": 5},
        ):
            assert await handshake("sid-9", message) is False
        # well formed, for a page that does not exist: NiceGUI's own answer, no
        assert await handshake("sid-9", {"client_id": "nope", "tab_id": "t", "document_id": "d"}) is False
    assert sum("dropped a 'handshake'" in r.getMessage() for r in caplog.records) == 6
    assert all(r.exc_info is None for r in caplog.records)


async def test_a_handshake_in_the_url_without_its_ids_is_refused_in_one_line(
    user: User, caplog: pytest.LogCaptureFixture
):
    from socketio.exceptions import ConnectionRefusedError as SocketRefused

    await _page(user)
    connect = _handler("connect")
    with caplog.at_level(logging.WARNING), pytest.raises(SocketRefused):
        await connect("sid-7", {"QUERY_STRING": "implicit_handshake=true&tab_id=t"})
    assert any("its handshake in the URL has no client_id" in r.getMessage() for r in caplog.records)
    assert all(r.exc_info is None for r in caplog.records)
    await connect("sid-8", {"QUERY_STRING": ""})  # a socket that does its handshake later: let through


@pytest.mark.parametrize(
    ("who", "taken"),
    [("nobody", False), ("another user", False), ("the page's user", True)],
)
async def test_a_socket_takes_a_page_only_when_signed_in_as_its_user(
    user: User, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch, who: str, taken: bool
):
    """NiceGUI's handshake checks only the page's id: a socket with no cookie that had learnt a signed-in page's id
    took the page, received its content and clicked its buttons as that user."""
    from app.auth.identity import SESSION_COOKIE
    from app.states import Role
    from tests.builders import make_session

    client_id, _, _ = await _page(user)
    cookies = {
        "nobody": None,
        "another user": make_session(role=Role.ADMIN, name="mallory"),
        "the page's user": user.http_client.cookies.get(SESSION_COOKIE),
    }[who]
    headers = [(b"cookie", f"{SESSION_COOKIE}={cookies}".encode())] if cookies else []
    scope = {"type": "websocket", "path": "/_nicegui_ws/socket.io/", "headers": headers, "query_string": b""}
    monkeypatch.setattr(core.sio, "get_environ", lambda sid, namespace=None: {"asgi.scope": scope})
    reached: list[object] = []

    async def nicegui_handshake(sid: str, msg: object) -> bool:
        reached.append(msg)
        return True

    from app.ui.socket_guard import _guarded_handshake

    handshake = _guarded_handshake(nicegui_handshake)
    with caplog.at_level(logging.WARNING):
        answer = await handshake("sid-5", {"client_id": client_id, "tab_id": "t", "document_id": "d"})
    assert answer is taken and bool(reached) is taken
    assert any("served to another user" in r.getMessage() for r in caplog.records) is not taken
