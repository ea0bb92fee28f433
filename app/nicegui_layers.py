"""NiceGUI's two response layers (``nicegui.middlewares``, added by ``ui.run``) as pure ASGI middleware, with the
same behaviour:

- ``PrefixedRedirects`` for ``RedirectWithPrefixMiddleware``: a ``Location`` that starts with ``/`` gets the
  request's ``X-Forwarded-Prefix`` in front (a reverse proxy serving the console under a path);
- ``VersionedCacheControl`` for ``SetCacheControlMiddleware``: NiceGUI's files under ``/_nicegui/<version>/``, but
  not its ``dynamic_resources``, are answered with ``Cache-Control: app.config.cache_control_directives``.

NiceGUI writes them as Starlette ``BaseHTTPMiddleware``, whose ``call_next`` raises ``RuntimeError("No response
returned.")`` when the app below ends without starting a response (``starlette/middleware/base.py``). Starlette's
``FileResponse`` ends so on purpose when the client leaves before the file is sent: under an ASGI spec version
below 2.4 (uvicorn's is 2.3) it listens for ``http.disconnect`` and stops sending. ``GZipMiddleware`` holds the
response's start until its first body chunk, so a browser that stopped loading one of NiceGUI's files (a link
clicked while a page loads) was logged as "Exception in ASGI application". Starlette's advice for such layers is pure
ASGI middleware (its documentation, "Limitations" of ``BaseHTTPMiddleware``; encode/starlette#2516).
"""

from __future__ import annotations

import re

from nicegui import __version__
from nicegui import app as nicegui_app
from nicegui.middlewares import RedirectWithPrefixMiddleware, SetCacheControlMiddleware
from starlette.applications import Starlette
from starlette.datastructures import Headers, MutableHeaders
from starlette.middleware import Middleware
from starlette.types import ASGIApp, Message, Receive, Scope, Send

PREFIX_HEADER = "x-forwarded-prefix"
FORWARDED_PREFIX = re.compile(r"(/[A-Za-z0-9._~-]+)+")
"""A proxy's path prefix: ``/tooldesk``, ``/apps/tooldesk``; not ``//host``, a scheme, a backslash or a query."""
VERSIONED = f"/_nicegui/{__version__}/"
DYNAMIC = f"{VERSIONED}dynamic_resources/"


class PrefixedRedirects:
    """ASGI middleware: ``RedirectWithPrefixMiddleware``'s prefix on redirects, when the prefix is a path
    (``FORWARDED_PREFIX``, trailing slashes dropped). NiceGUI's takes any text: ``//example.org`` made every
    redirect one to another site. A header that is not such a path is taken out of the request, so the pages
    (whose links NiceGUI builds from it) and the redirects agree; a path's trailing slashes are dropped for both."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        given = Headers(scope=scope).get(PREFIX_HEADER) if scope["type"] == "http" else None
        if given is None:
            await self.app(scope, receive, send)
            return
        prefix = given.rstrip("/")
        usable = FORWARDED_PREFIX.fullmatch(prefix) is not None
        headers = [(name, value) for name, value in scope["headers"] if name.lower() != PREFIX_HEADER.encode()]
        if usable:
            headers.append((PREFIX_HEADER.encode(), prefix.encode()))
        scope = {**scope, "headers": headers}
        if not usable:
            await self.app(scope, receive, send)
            return

        async def send_prefixed(message: Message) -> None:
            if message["type"] == "http.response.start":
                response_headers = MutableHeaders(scope=message)
                location = response_headers.get("location")
                if location is not None and location.startswith("/"):
                    response_headers["location"] = prefix + location
            await send(message)

        await self.app(scope, receive, send_prefixed)


class VersionedCacheControl:
    """ASGI middleware: ``SetCacheControlMiddleware``'s ``Cache-Control`` on NiceGUI's versioned files."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = str(scope.get("path", ""))
        if scope["type"] != "http" or not path.startswith(VERSIONED) or path.startswith(DYNAMIC):
            await self.app(scope, receive, send)
            return

        async def send_cached(message: Message) -> None:
            if message["type"] == "http.response.start":
                MutableHeaders(scope=message)["cache-control"] = nicegui_app.config.cache_control_directives
            await send(message)

        await self.app(scope, receive, send_cached)


REPLACEMENTS: dict[object, Middleware] = {
    RedirectWithPrefixMiddleware: Middleware(PrefixedRedirects),
    SetCacheControlMiddleware: Middleware(VersionedCacheControl),
}


def replace_nicegui_layers(app: Starlette) -> None:
    """Put the layers above in place of NiceGUI's in ``app.user_middleware`` and build the middleware stack again.
    At start: ``ui.run`` adds NiceGUI's layers after ``app.main`` has built the app, and the server's lifespan call
    has built the stack already."""
    app.user_middleware[:] = [REPLACEMENTS.get(layer.cls, layer) for layer in app.user_middleware]
    app.middleware_stack = app.build_middleware_stack()
