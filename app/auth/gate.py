"""The ASGI middleware in front of the pages and of every state-changing request (README, "Security").

- **Pages** (every path but ``/api/``, ``/webhooks/``, ``/sim/``, ``/signin``, the probes ``/healthz`` and
  ``/readyz``, and NiceGUI's own ``/_nicegui/`` files and socket): without a session, a 303 to
  ``/signin?next=<path>``; ``/openapi.json`` answers 401 instead. A page in ``PAGE_ROLES`` answers 403 to a role
  below it. ``/api`` routes check for themselves (``app.auth.access.need``).
- **Origin** (against cross-site request forgery): a POST, PUT, PATCH or DELETE sent with the session cookie and
  without ``Authorization`` must carry an ``Origin`` (or, failing that, a ``Referer``) of the console itself: the
  request's own scheme and ``Host`` (which ``app.guard`` limits to the console's names) or ``TOOLDESK_PUBLIC_URL``;
  otherwise 403 before anything is done. A write that sends a foreign ``Origin`` is refused even without the
  cookie. The webhook and the embedded simulator are authenticated by signature and API key, and exempt.
- **WebSocket** (NiceGUI's socket.io, ``/_nicegui_ws/``, which carries every click and keystroke of a page): a
  handshake whose ``Origin`` is not the console's is closed before it is accepted (the client gets 403). Python-socketio
  is set up by NiceGUI to accept any origin, and a browser opens a WebSocket to any address without CORS. Its
  HTTP side (long polling, any method) answers 403 to another ``Origin`` too.
"""

from __future__ import annotations

import asyncio
from urllib.parse import quote, urlsplit

from starlette.requests import HTTPConnection, Request
from starlette.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from starlette.types import ASGIApp, Receive, Scope, Send
from starlette.websockets import WebSocketClose

from app.auth.access import identify
from app.auth.identity import SESSION_COOKIE, Identity
from app.errors import Unauthorized
from app.runtime import get_runtime
from app.services import audit
from app.states import Role

SIGN_IN_PATH = "/signin"
OPEN_PREFIXES = ("/api/", "/webhooks/", "/sim/", "/_nicegui/", "/_nicegui_ws/", "/signin/")
OPEN_PATHS = frozenset({SIGN_IN_PATH, "/healthz", "/readyz", "/healthz/", "/readyz/", "/favicon.ico"})
SIGNED_EXEMPT = ("/webhooks/", "/sim/")
WRITES = frozenset({"POST", "PUT", "PATCH", "DELETE"})
PAGE_ROLES: dict[str, Role] = {"/users": Role.ADMIN}
"""Pages above the viewer's role; every other page needs only a session."""


class AuthGate:
    """ASGI middleware: the page redirects and the Origin rule above."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "websocket" and _foreign_socket(HTTPConnection(scope)):
            await WebSocketClose(code=1008, reason="the page is not the console's")(scope, receive, send)
            return
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request = Request(scope)
        refusal = _foreign_polling(request) or _foreign_write(request) or await _page_refusal(request)
        if refusal is not None:
            await refusal(scope, receive, send)
            return
        with audit.request_scope():  # ``need`` names the caller here; the audit records changes as theirs
            await self.app(scope, receive, send)


def console_origins(request: HTTPConnection) -> set[str]:
    """The origins a write from the console's own pages carries: this request's scheme (``http`` for ``ws``) and
    Host, and the public URL's origin."""
    public = urlsplit(get_runtime().settings.base_url)
    origins = {f"{public.scheme}://{public.netloc}".lower()}
    host = request.headers.get("host")
    if host:
        scheme = {"ws": "http", "wss": "https"}.get(request.url.scheme, request.url.scheme)
        origins.add(f"{scheme}://{host}".lower())
    return origins


def _foreign_socket(connection: HTTPConnection) -> bool:
    """True for a WebSocket handshake from a page on another origin (a browser always sends ``Origin`` there; a
    client without one is not a page, and the socket needs a page's client id anyway)."""
    origin = connection.headers.get("origin")
    return origin is not None and origin.lower() not in console_origins(connection)


def _forbidden(message: str) -> JSONResponse:
    """403 in the API's error shape (``{"error": {"code": "forbidden", "message": ...}}``)."""
    return JSONResponse({"error": {"code": "forbidden", "message": message}}, status_code=403)


def _foreign_polling(request: Request) -> Response | None:
    """403 for any request to the socket's HTTP side (socket.io's long polling, its preflight) from a page on
    another origin: python-socketio, set up by NiceGUI to take any origin, would answer its handshake with that
    origin allowed, credentials included, so the page could read a session id (it could not act: the writes are
    refused above, and so is the WebSocket)."""
    if not request.url.path.startswith("/_nicegui_ws/") or not _foreign_socket(request):
        return None
    message = f"{request.method} {request.url.path} from another origin: the console's socket serves its own pages"
    return _forbidden(message)


def _foreign_write(request: Request) -> Response | None:
    path = request.url.path
    if request.method not in WRITES or path.startswith(SIGNED_EXEMPT) or "authorization" in request.headers:
        return None
    origin = _origin(request)
    with_cookie = SESSION_COOKIE in request.cookies
    if origin is None and not with_cookie:
        return None
    if origin is not None and origin in console_origins(request):
        return None
    said = f"Origin {origin!r}" if origin is not None else "no Origin or Referer"
    cookie = "the sign-in cookie" if with_cookie else "no sign-in cookie"
    message = (
        f"{request.method} {path} with {cookie} and {said}: writes from a browser must come from the "
        "console's own pages; scripts send 'Authorization: Bearer <token>' instead"
    )
    return _forbidden(message)


async def _page_refusal(request: Request) -> Response | None:
    path = request.url.path
    if path.startswith(OPEN_PREFIXES) or path in OPEN_PATHS:
        return None
    identity = await asyncio.to_thread(_identity, request)
    if identity is None:
        if path == "/openapi.json":
            message = f"GET {path} needs you signed in (a session or an API token)"
            return JSONResponse({"error": {"code": "unauthorized", "message": message}}, status_code=401)
        wanted = path + (f"?{request.url.query}" if request.url.query else "")
        return RedirectResponse(f"{SIGN_IN_PATH}?next={quote(wanted, safe='')}", status_code=303)
    role = PAGE_ROLES.get(path)
    if role is not None and not identity.may(role):
        return HTMLResponse(
            f"<h1>403</h1><p>{path} needs the role {role}; {identity.name} is {identity.role}. "
            '<a href="/">Back to the Inbox</a></p>',
            status_code=403,
        )
    return None


def _identity(request: Request) -> Identity | None:
    try:
        return identify(request)
    except Unauthorized:
        return None


def _origin(request: Request) -> str | None:
    origin = request.headers.get("origin")
    if origin is None:
        referer = request.headers.get("referer")
        if not referer:
            return None
        parts = urlsplit(referer)
        origin = f"{parts.scheme}://{parts.netloc}"
    return origin.lower()
