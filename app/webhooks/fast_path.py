"""The webhook's fast path: a pure ASGI layer in front of the whole app that serves ``POST /webhooks/sudoiq``.

Every other request passes on untouched. The webhook is signature-authenticated and never a page, so it skips
what the pages need: NiceGUI's own middleware (two layers, ``app.nicegui_layers``, and GZip, added by ``ui.run``
outside everything ``app.main`` adds), the sign-in gate, FastAPI's routing and ``Request`` objects. It keeps
what protects it, with the same answers as before:

- the Host check of ``app.guard`` (a foreign ``Host`` is answered by ``app.guard.HostCheck`` itself: 400
  ``bad_host`` in the contract's shape);
- the security headers of ``app.guard`` on every answer;
- the body's size limit and deadline (``app.webhooks.body``), the refusal limiter and the queue cap
  (``app.webhooks.receive``).

The embedded simulator's routes (``/sim/...``, the stand-in platform the console itself calls for every
submission) take the same short way when ``install_fast_path`` is given them: a FastAPI app of their own behind
the same Host check and headers. They are authenticated by API key and exempt from the sign-in gate anyway
(``app.auth.gate.SIGNED_EXEMPT``), and their errors keep the contract's shape (``app.simulator.api``).

Other methods on the path (a ``GET``) go on to the FastAPI route, which answers 405 in the contract's shape; the
route also keeps the webhook in ``/docs``. ``install_fast_path`` wraps the app's built middleware stack at start,
because ``ui.run`` adds NiceGUI's middleware after ``app.main`` has built the app.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

from starlette._utils import parse_host_header
from starlette.applications import Starlette
from starlette.requests import ClientDisconnect
from starlette.types import ASGIApp, Receive, Scope, Send

from app.config import SIMULATOR_PREFIX, WEBHOOK_PATH
from app.guard import CONSOLE_POLICY, HEADERS, HostCheck, SecurityHeaders
from app.runtime import get_runtime
from app.webhooks.receive import take_delivery

_SECURITY = (*HEADERS, (b"content-security-policy", CONSOLE_POLICY.encode()))
_JSON = (b"content-type", b"application/json")
_SIMULATOR_PATHS = (SIMULATOR_PREFIX + "/",)


class WebhookFastPath:
    """ASGI middleware: serves ``POST WEBHOOK_PATH`` itself; ``hosts`` are the ``Host`` names it answers to
    (``app.guard.allowed_hosts``)."""

    def __init__(self, app: ASGIApp, *, hosts: list[str], simulator: ASGIApp | None = None) -> None:
        self.app = app
        self.hosts = frozenset(hosts)
        self._refuse_host = SecurityHeaders(HostCheck(app, allowed_hosts=hosts, www_redirect=False))
        self._simulator = (
            None
            if simulator is None
            else SecurityHeaders(HostCheck(simulator, allowed_hosts=hosts, www_redirect=False))
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        if self._simulator is not None and scope["path"].startswith(_SIMULATOR_PATHS):
            await self._simulator(scope, receive, send)
            return
        if scope["path"] != WEBHOOK_PATH or scope["method"] != "POST":
            await self.app(scope, receive, send)
            return
        headers: dict[str, str] = {}
        for raw_name, raw_value in scope["headers"]:
            name = raw_name.decode("latin-1").lower()
            if name not in headers:  # the first of a repeated header, as Starlette's ``Headers`` reads it
                headers[name] = raw_value.decode("latin-1")
        parsed = parse_host_header(headers.get("host"))
        if parsed is None or parsed.host.lower() not in self.hosts:
            await self._refuse_host(scope, receive, send)
            return
        client = scope.get("client")
        try:
            answer = await take_delivery(
                runtime=get_runtime(),
                headers=headers,
                chunks=_chunks(receive),
                source=client[0] if client else "unknown",
            )
        except ClientDisconnect:
            return  # the sender left before its body arrived: nothing was stored, nobody to answer
        await send(
            {
                "type": "http.response.start",
                "status": answer.status,
                "headers": [
                    (b"content-length", str(len(answer.body)).encode()),
                    _JSON,
                    *answer.headers,
                    *_SECURITY,
                ],
            }
        )
        await send({"type": "http.response.body", "body": answer.body})


async def _chunks(receive: Receive) -> AsyncIterator[bytes]:
    """The request's body as it arrives; raises ``ClientDisconnect`` when the client leaves first."""
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise ClientDisconnect()
        yield message.get("body", b"")
        if not message.get("more_body", False):
            return


def install_fast_path(app: Starlette, *, hosts: list[str], simulator: ASGIApp | None = None) -> None:
    """Put ``WebhookFastPath`` in front of ``app``'s middleware stack (built now if it is not yet); once.
    ``simulator``: the embedded simulator's own app, serving ``/sim/...`` (``None``: no embedded simulator)."""
    if app.middleware_stack is None:
        app.middleware_stack = app.build_middleware_stack()
    if not isinstance(app.middleware_stack, WebhookFastPath):
        app.middleware_stack = WebhookFastPath(app.middleware_stack, hosts=hosts, simulator=simulator)
