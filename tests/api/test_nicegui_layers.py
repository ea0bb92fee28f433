"""NiceGUI's response layers (``app.nicegui_layers``): a request whose client leaves before the answer starts is
not an error, and the layers still set ``Cache-Control`` on NiceGUI's files and prefix redirects."""

from __future__ import annotations

import httpx
import pytest
from nicegui import __version__
from nicegui import app as nicegui_app
from nicegui.dependencies import js_components
from starlette.middleware.base import BaseHTTPMiddleware
from starlette.routing import Mount
from starlette.types import Message, Receive, Scope, Send

from tests.builders import Console

STATIC_FILE = f"/_nicegui/{__version__}/static/nicegui.js"
COMPONENT = f"/_nicegui/{__version__}/components/" + next(k for k, c in js_components.items() if c.path.is_file())


def _scope(path: str, headers: list[tuple[bytes, bytes]]) -> Scope:
    """A GET as uvicorn passes it on: ASGI spec version 2.3, so Starlette's ``FileResponse`` listens for the
    client's ``http.disconnect`` while it sends the file."""
    return {
        "type": "http",
        "asgi": {"version": "3.0", "spec_version": "2.3"},
        "http_version": "1.1",
        "method": "GET",
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "root_path": "",
        "query_string": b"",
        "headers": [(b"host", b"127.0.0.1:8080"), *headers],
        "client": ("127.0.0.1", 50000),
        "server": ("127.0.0.1", 8080),
    }


async def _leave_unanswered(scope: Scope, receive: Receive, send: Send) -> None:
    """What Starlette's ``FileResponse`` does when the client leaves before the file is sent (under ASGI spec
    2.3, uvicorn's): it reads ``http.disconnect`` and returns without a response."""
    assert (await receive())["type"] == "http.disconnect"


async def _call(path: str, headers: list[tuple[bytes, bytes]]) -> list[Message]:
    """Call the whole app as uvicorn does for a client that has already left; the messages it sent."""
    sent: list[Message] = []

    async def receive() -> Message:
        return {"type": "http.disconnect"}

    async def send(message: Message) -> None:
        sent.append(message)

    await nicegui_app(_scope(path, headers), receive, send)
    return sent


async def test_answer_left_unstarted_is_no_error(console: Console):
    """Starlette's ``BaseHTTPMiddleware.call_next`` raises ``RuntimeError("No response returned.")`` for such an
    app, which uvicorn logs as "Exception in ASGI application"; with GZip in front, as ``ui.run`` adds it, that
    was most of NiceGUI's files a browser stopped loading."""
    mount = Mount("/_nicegui/test-unanswered", app=_leave_unanswered)
    nicegui_app.router.routes.insert(0, mount)
    try:
        assert await _call("/_nicegui/test-unanswered/file.js", []) == []
    finally:
        nicegui_app.router.routes.remove(mount)


@pytest.mark.parametrize("path", [COMPONENT, STATIC_FILE, "/", "/runs", "/api/runs", "/webhooks/sudoiq"])
async def test_client_gone_is_never_a_server_error(console: Console, path: str):
    headers = [(b"authorization", console.headers["authorization"].encode()), (b"accept-encoding", b"gzip")]
    sent = await _call(path, headers)
    assert [m["status"] for m in sent if m["type"] == "http.response.start" and m["status"] >= 500] == []


async def test_no_base_http_middleware_left(console: Console):
    layers = [m.cls for m in nicegui_app.user_middleware]
    assert not [cls for cls in layers if isinstance(cls, type) and issubclass(cls, BaseHTTPMiddleware)], layers


async def test_nicegui_files_keep_their_cache_control(console: Console):
    response = await console.get(STATIC_FILE)
    assert response.status_code == 200
    assert response.headers["cache-control"] == nicegui_app.config.cache_control_directives
    assert "cache-control" not in (await console.get("/api/runs")).headers
    dynamic = await console.get(f"/_nicegui/{__version__}/dynamic_resources/none.js")
    assert dynamic.headers.get("cache-control") != nicegui_app.config.cache_control_directives


async def test_redirect_carries_the_forwarded_prefix(console: Console):
    async with httpx.AsyncClient(transport=httpx.ASGITransport(nicegui_app), base_url="http://127.0.0.1:8080") as c:
        response = await c.get("/runs", headers={"x-forwarded-prefix": "/tooldesk"})
        assert response.status_code == 303
        assert response.headers["location"] == "/tooldesk/signin?next=%2Fruns"
        assert (await c.get("/runs")).headers["location"] == "/signin?next=%2Fruns"


@pytest.mark.parametrize("prefix", ["//example.org", "/\\example.org", "https://example.org", "/a?b", "/a//b", "/"])
async def test_a_forwarded_prefix_that_is_not_a_path_is_used_nowhere(console: Console, prefix: str):
    async with httpx.AsyncClient(transport=httpx.ASGITransport(nicegui_app), base_url="http://127.0.0.1:8080") as c:
        response = await c.get("/runs", headers={"x-forwarded-prefix": prefix})
        assert response.status_code == 303
        assert response.headers["location"] == "/signin?next=%2Fruns"
    page = await console.get("/", headers={"x-forwarded-prefix": prefix})
    assert page.status_code == 200
    assert f'src="/_nicegui/{__version__}/static/' in page.text and "example.org" not in page.text


async def test_a_forwarded_prefix_with_a_trailing_slash_is_used_without_it(console: Console):
    async with httpx.AsyncClient(transport=httpx.ASGITransport(nicegui_app), base_url="http://127.0.0.1:8080") as c:
        response = await c.get("/runs", headers={"x-forwarded-prefix": "/tooldesk/"})
        assert response.headers["location"] == "/tooldesk/signin?next=%2Fruns"
    page = await console.get("/", headers={"x-forwarded-prefix": "/tooldesk/"})
    assert f'src="/tooldesk/_nicegui/{__version__}/static/' in page.text
