"""NiceGUI's socket (``/_nicegui_ws/``) carries every click and keystroke of a page: a WebSocket handshake from a page
on another origin is refused, against a console served by ``python -m app`` (a real WebSocket needs a real server)."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest
from websockets.exceptions import InvalidStatus
from websockets.sync.client import connect
from websockets.typing import Origin

from tests.builders import served_console

SOCKET = "/_nicegui_ws/socket.io/?EIO=4&transport=websocket"


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A console (``python -m app serve``) on a free port with its own database; its address, ``127.0.0.1:PORT``."""
    with served_console(tmp_path_factory.mktemp("socket-console")) as url:
        yield url.removeprefix("http://")


@pytest.mark.parametrize("origin", ["http://evil.example", "null", "http://127.0.0.1:1"])
def test_socket_handshake_from_another_origin_is_refused_403(served: str, origin: str) -> None:
    """Regression: NiceGUI sets socket.io to accept any origin, and a browser opens a WebSocket anywhere without
    CORS; the handshake from evil.example was accepted."""
    with pytest.raises(InvalidStatus) as refused:
        connect(f"ws://{served}{SOCKET}", origin=Origin(origin), open_timeout=30)
    assert refused.value.response.status_code == 403


def test_socket_handshake_from_the_console_itself_is_accepted(served: str) -> None:
    with connect(f"ws://{served}{SOCKET}", origin=Origin(f"http://{served}"), open_timeout=30) as socket:
        opened = socket.recv(timeout=30)
        assert isinstance(opened, str) and opened.startswith('0{"sid":')  # engine.io's open packet


POLLING = "/_nicegui_ws/socket.io/?EIO=4&transport=polling"


@pytest.mark.parametrize("method", ["GET", "OPTIONS", "POST"])
def test_socket_polling_from_another_origin_is_refused_403(served: str, method: str) -> None:
    """Regression: socket.io's long polling answered a page on evil.example with its handshake (a session id) and
    ``access-control-allow-origin: http://evil.example`` with credentials allowed."""
    headers = {"origin": "http://evil.example", "access-control-request-method": "GET"}
    answer = httpx.request(method, f"http://{served}{POLLING}", headers=headers, timeout=30)
    assert answer.status_code == 403
    assert "sid" not in answer.text and "access-control-allow-origin" not in answer.headers


def test_socket_polling_from_the_console_itself_is_answered(served: str) -> None:
    answer = httpx.get(f"http://{served}{POLLING}", headers={"origin": f"http://{served}"}, timeout=30)
    assert answer.status_code == 200 and answer.text.startswith('0{"sid":')
