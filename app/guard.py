"""Browser protections on every request: only this console's own Host names, and security headers.

- **Host** (against DNS rebinding: a page on ``evil.example`` whose name is made to resolve to 127.0.0.1 would
  otherwise read the console's answers): Starlette's ``TrustedHostMiddleware`` answers 400 "Invalid host header"
  (under ``/api/`` and ``/webhooks/`` as the contract's error, code ``bad_host``) unless the ``Host`` is a loopback name (``localhost``, ``127.0.0.1``, ``[::1]``), the host of
  ``TOOLDESK_PUBLIC_URL``, or the address ``TOOLDESK_HOST`` names when that is not a wildcard. Under NiceGUI's
  user simulation (tests, no socket) its client's name ``test`` is allowed too. The probes ``/healthz`` and
  ``/readyz`` (``app.api.health_routes``) answer any ``Host``: an orchestrator calls them by the container's
  address, and they tell nothing a rebinding page could use.
- **Headers** on every HTTP answer: ``X-Content-Type-Options: nosniff``, ``Referrer-Policy: same-origin``,
  ``X-Frame-Options: DENY`` and a Content Security Policy with ``frame-ancestors 'none'`` (no page may frame the
  console). NiceGUI renders Vue templates in the browser and adds inline scripts and styles, so scripts need
  ``'unsafe-inline'`` and ``'unsafe-eval'``; everything else is limited to the console's own origin. ``/docs`` and
  ``/redoc`` load FastAPI's Swagger UI and ReDoc from ``cdn.jsdelivr.net``, which their policy allows.
- **API bodies**: a ``POST``, ``PUT`` or ``PATCH`` under ``/api/`` that is not JSON is answered 415 before its
  body is read, and one above ``API_MAX_BODY_BYTES`` 413 (by its ``Content-Length`` at once, or as soon as the
  streamed bytes pass it), so a page on another origin cannot make a browser push hundreds of megabytes into the
  console's memory with a ``text/plain`` form or ``fetch``.
"""

from __future__ import annotations

import logging
import os
import time
from urllib.parse import urlsplit

from starlette._utils import parse_host_header
from starlette.applications import Starlette
from starlette.datastructures import Headers
from starlette.middleware.trustedhost import TrustedHostMiddleware
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.api.common import JSON_PATHS, json_refusal
from app.config import Settings
from app.services.config_io import MAX_DOCUMENT_BYTES

log = logging.getLogger("tooldesk")

LOOPBACK_HOSTS = ("localhost", "127.0.0.1", "[::1]")
"""As Starlette parses a Host header: an IPv6 literal keeps its brackets."""
WILDCARD_ADDRESSES = ("0.0.0.0", "::", "")
SIMULATION_HOST = "test"
PROBE_PATHS = frozenset({"/healthz", "/readyz", "/healthz/", "/readyz/"})
"""Answered whatever the ``Host``: liveness and readiness (``app.api.health_routes``)."""

CONSOLE_POLICY = (
    "default-src 'self'; script-src 'self' 'unsafe-inline' 'unsafe-eval'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data: blob:; font-src 'self' data:; connect-src 'self'; worker-src 'self' blob:; "
    "object-src 'none'; base-uri 'self'; form-action 'self'; frame-ancestors 'none'"
)
DOCS_POLICY = (
    "default-src 'self'; script-src 'self' 'unsafe-inline' https://cdn.jsdelivr.net; "
    "style-src 'self' 'unsafe-inline' https://cdn.jsdelivr.net https://fonts.googleapis.com; "
    "img-src 'self' data: https://fastapi.tiangolo.com https://cdn.redoc.ly; font-src 'self' data: "
    "https://fonts.gstatic.com; worker-src 'self' blob:; connect-src 'self'; object-src 'none'; base-uri 'self'; "
    "frame-ancestors 'none'"
)
DOCS_PATHS = ("/docs", "/redoc")
API_MAX_BODY_BYTES = MAX_DOCUMENT_BYTES + 65_536
"""The largest body an ``/api`` write may send: a configuration document at its limit, with room to spare."""
HEADERS = (
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"same-origin"),
    (b"x-frame-options", b"DENY"),
)


def allowed_hosts(settings: Settings) -> list[str]:
    """The ``Host`` names this console answers to (without ports): loopback names, the public URL's host, and
    ``TOOLDESK_HOST`` unless it is a wildcard address."""
    hosts = list(LOOPBACK_HOSTS)
    public = urlsplit(settings.public_url).hostname if settings.public_url else None
    for name in (public, settings.host):
        if not name or name in WILDCARD_ADDRESSES:
            continue
        shown = f"[{name}]" if ":" in name else name.lower()
        if shown not in hosts:
            hosts.append(shown)
    if os.environ.get("NICEGUI_USER_SIMULATION"):
        hosts.append(SIMULATION_HOST)
    return hosts


def install_guard(app: Starlette, settings: Settings) -> None:
    """Put the Host check and the security headers in front of ``app`` (the headers go on refusals too)."""
    hosts = allowed_hosts(settings)
    if settings.host in WILDCARD_ADDRESSES and not settings.public_url:
        log.warning(
            "listening on every address, but answering only Host names %s: set TOOLDESK_PUBLIC_URL to the address "
            "people and the platform use",
            ", ".join(hosts),
        )
    app.add_middleware(ApiBodyCheck)
    app.add_middleware(HostCheck, allowed_hosts=hosts, www_redirect=False)
    app.add_middleware(SecurityHeaders)  # added last, so outermost


class HostCheck(TrustedHostMiddleware):
    """Starlette's Host check; under ``/api/`` and ``/webhooks/`` a refusal is in the contract's error shape
    (``bad_host``), so scripts and the platform read it as any other error."""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope.get("path") in PROBE_PATHS:
            await self.app(scope, receive, send)
            return
        if scope["type"] != "http" or not str(scope.get("path", "")).startswith(JSON_PATHS):
            await super().__call__(scope, receive, send)
            return
        parsed = parse_host_header(Headers(scope=scope).get("host"))
        if parsed is not None and parsed.host.lower() in self.allowed_hosts:
            await self.app(scope, receive, send)
            return
        shown = parsed.host if parsed is not None else "(none)"
        message = (
            f"Invalid host header: {shown} is not a name of this console (it answers to "
            f"{', '.join(self.allowed_hosts)}): set TOOLDESK_PUBLIC_URL to the address you use"
        )
        if str(scope.get("path", "")).startswith("/webhooks/"):
            _warn_webhook_host(shown, message)
        await JSONResponse({"error": {"code": "bad_host", "message": message}}, status_code=400)(scope, receive, send)


HOST_WARNING_SECONDS = 60.0
"""Least time between two log warnings of a webhook refused for the same ``Host`` name."""
_host_warned: dict[str, float] = {}


def _warn_webhook_host(host: str, message: str) -> None:
    """Log a webhook refused for its ``Host`` (a platform calling a name the console does not answer to), at most
    once per ``HOST_WARNING_SECONDS`` per name: such a request is refused before it is read, so it is not stored
    as a delivery, and without this line a misconfigured webhook URL would leave no trace at all."""
    now = time.monotonic()
    if now - _host_warned.get(host, -HOST_WARNING_SECONDS) < HOST_WARNING_SECONDS:
        return
    if len(_host_warned) >= 1_000:  # names are the sender's choice
        _host_warned.clear()
    _host_warned[host] = now
    log.warning("a webhook request was refused (400 bad_host): %s", message)


class SecurityHeaders:
    """ASGI middleware adding the headers above to every HTTP answer; a header the app set itself is kept."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path = str(scope.get("path", ""))
        policy = DOCS_POLICY if path in DOCS_PATHS else CONSOLE_POLICY

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                present = {name.lower() for name, _value in headers}
                extra = [*HEADERS, (b"content-security-policy", policy.encode())]
                headers += [(name, value) for name, value in extra if name not in present]
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, send_with_headers)


class ApiBodyCheck:
    """ASGI middleware for writes under ``/api/``: 415 for a body that is not JSON and 413 for one above
    ``API_MAX_BODY_BYTES``, both before the body is read further; a body within the limit is passed on whole."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = str(scope.get("path", ""))
        if scope["type"] != "http" or not path.startswith("/api/"):
            await self.app(scope, receive, send)
            return
        headers = Headers(scope=scope)
        refusal = json_refusal(str(scope.get("method", "")), path, headers.get("content-type", ""))
        if refusal is not None:
            await JSONResponse(refusal.body(), status_code=refusal.status)(scope, receive, send)
            return
        declared = headers.get("content-length", "")
        if declared.isdigit() and int(declared) > API_MAX_BODY_BYTES:
            await _too_large(scope, receive, send, f"Content-Length {int(declared):,}")
            return
        if scope.get("method") not in ("POST", "PUT", "PATCH"):
            await self.app(scope, receive, send)
            return
        messages: list[Message] = []
        size = 0
        while True:
            message = await receive()
            messages.append(message)
            if message["type"] != "http.request":
                break
            size += len(message.get("body", b""))
            if size > API_MAX_BODY_BYTES:
                await _too_large(scope, receive, send, f"more than {API_MAX_BODY_BYTES:,} bytes")
                return
            if not message.get("more_body", False):
                break

        async def replay() -> Message:
            return messages.pop(0) if messages else await receive()

        await self.app(scope, replay, send)


async def _too_large(scope: Scope, receive: Receive, send: Send, what: str) -> None:
    message = (
        f"{scope.get('method')} {scope.get('path')} sent {what}: an API body may have at most "
        f"{API_MAX_BODY_BYTES:,} bytes"
    )
    await JSONResponse({"error": {"code": "body_too_large", "message": message}}, status_code=413)(scope, receive, send)
