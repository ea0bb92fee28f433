"""Socket.IO messages from browsers, checked for shape before NiceGUI reads them.

NiceGUI's handlers of the ``event``, ``javascript_response``, ``ack``, ``log`` and ``handshake`` messages index into the message as its
own browser code builds it. A message of another shape (a script on a signed-in session's socket, or a broken
proxy) raised ``KeyError``, ``TypeError`` or ``json.JSONDecodeError`` in them, and engine.io logged it with a
traceback, once per message. Here each message is checked first; one of the wrong shape, or one for a page whose
handshake another socket made, is dropped with one warning line that names what was wrong, and never reaches
NiceGUI. A well-formed message goes on unchanged.

Shapes, from NiceGUI 3's ``nicegui.js`` and ``nicegui/nicegui.py``:

- ``event``: ``{"client_id": str, "id": int, "listener_id": str, "args": [str | null, ...]}``, each argument a
  JSON text; ``listener_id`` must be one of the element's listeners when the element exists.
- ``javascript_response``: ``{"client_id": str, "request_id": str, "result": any}``.
- ``ack``: ``{"client_id": str, "next_message_id": int}``.
- ``log``: ``{"client_id": str, "level": "debug" | "info" | "warning" | "error", "message": str}``; written by
  ``browser_log`` at DEBUG, quoted (``%r``: one line), cut at ``LOG_CHARS``; NiceGUI's handler is not called.
- ``handshake``: ``{"client_id": str, "tab_id": str, "document_id": str, "old_tab_id": str | null,
  "next_message_id": int | digits | null}``, also in a ``connect``'s query (``implicit_handshake=true``); the
  socket must be signed in as the user the page was served to (``_another_user``). A socket that did no handshake
  is in no page's room, so its other messages are dropped.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Callable
from typing import Any
from urllib.parse import parse_qs

from nicegui import Client, core
from socketio.exceptions import ConnectionRefusedError as SocketRefused
from starlette.requests import HTTPConnection

from app.auth.access import identify
from app.auth.identity import Identity
from app.errors import Unauthorized

log = logging.getLogger(__name__)
browser_log = logging.getLogger(f"{__name__}.browser")
"""What pages' scripts report (NiceGUI's ``log`` message: their errors), at DEBUG whatever level they ask for: a
page's script can send anything, so it writes nothing into the console's log that an operator would take for the
console's own, and a flood of them costs no disk unless DEBUG is on."""

_GUARDED = "_tooldesk_guarded"


ARG_CHARS = 1_000_000
"""Longest argument of an ``event`` taken (JSON text, characters): the longest a page sends is a typed result or
an imported file's name; an upload goes over HTTP."""

LOG_LEVELS = frozenset({"debug", "info", "warning", "error"})
LOG_CHARS = 500
"""Most characters of a browser's ``log`` message kept."""


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _page_problem(msg: object) -> str | None:
    """What is wrong with a message that names its page: it must be an object with a text ``client_id``."""
    if not isinstance(msg, dict):
        return f"a {type(msg).__name__}, not an object"
    if not isinstance(msg.get("client_id"), str):
        return "no client_id"
    return None


def event_problem(msg: object) -> str | None:
    """What is wrong with an ``event`` message, or ``None`` when NiceGUI can take it."""
    if (problem := _page_problem(msg)) is not None:
        return problem
    assert isinstance(msg, dict)
    if not _is_int(msg.get("id")):
        return "no element id"
    if not isinstance(msg.get("listener_id"), str):
        return "no listener_id"
    args = msg.get("args", [])
    if not isinstance(args, list):
        return "args is not a list"
    for arg in args:
        if arg is None:
            continue
        if not isinstance(arg, str):
            return "an argument is not JSON text"
        if len(arg) > ARG_CHARS:
            return "an argument longer than any page sends"
        try:
            json.loads(arg)
        except (ValueError, RecursionError):  # RecursionError: JSON nested thousands of levels deep
            return "an argument is not JSON"
    client = Client.instances.get(msg["client_id"])
    element = client.elements.get(msg["id"]) if client is not None else None
    if element is not None and msg["listener_id"] not in element._event_listeners:
        return "an unknown listener_id"
    return None


def javascript_response_problem(msg: object) -> str | None:
    """What is wrong with a ``javascript_response`` message, or ``None``."""
    if (problem := _page_problem(msg)) is not None:
        return problem
    assert isinstance(msg, dict)
    if not isinstance(msg.get("request_id"), str):
        return "no request_id"
    return None


def ack_problem(msg: object) -> str | None:
    """What is wrong with an ``ack`` message, or ``None``."""
    if (problem := _page_problem(msg)) is not None:
        return problem
    assert isinstance(msg, dict)
    if not _is_int(msg.get("next_message_id")):
        return "no next_message_id"
    return None


def log_problem(msg: object) -> str | None:
    """What is wrong with a ``log`` message (a browser's console error, written to the console's log), or ``None``."""
    if (problem := _page_problem(msg)) is not None:
        return problem
    assert isinstance(msg, dict)
    if msg.get("level") not in LOG_LEVELS:
        return "an unknown level"
    if not isinstance(msg.get("message"), str):
        return "no message"
    return None


def handshake_problem(msg: object) -> str | None:
    """What is wrong with a ``handshake`` message, or ``None``."""
    if not isinstance(msg, dict):
        return f"a {type(msg).__name__}, not an object"
    for key in ("client_id", "tab_id", "document_id"):
        if not isinstance(msg.get(key), str):
            return f"no {key}"
    if msg.get("old_tab_id") is not None and not isinstance(msg["old_tab_id"], str):
        return "old_tab_id is not text"
    following = msg.get("next_message_id")
    if following is not None and not _is_int(following) and not (isinstance(following, str) and following.isdigit()):
        return "next_message_id is not a number"
    return None


def install() -> None:
    """Wrap NiceGUI's handlers of the messages above (once per process: NiceGUI registers them at import,
    and tests build the app again and again)."""
    handlers: dict[str, Any] = core.sio.handlers.setdefault("/", {})
    wrappers: dict[str, Callable[[Callable[..., Any]], Callable[..., Any]]] = {
        "event": lambda handler: _guarded("event", handler, event_problem),
        "javascript_response": lambda handler: _guarded("javascript_response", handler, javascript_response_problem),
        "ack": lambda handler: _guarded("ack", handler, ack_problem),
        "log": lambda _nicegui_s: _guarded("log", _write_browser_log, log_problem),
        "handshake": _guarded_handshake,
        "connect": _guarded_connect,
    }
    for name, wrap in wrappers.items():
        handler = handlers.get(name)
        if handler is not None and not getattr(handler, _GUARDED, False):
            handlers[name] = wrap(handler)


def _connected(sid: str, client_id: str) -> bool:
    """Whether socket ``sid`` did the handshake of page ``client_id`` (NiceGUI puts it in the room named so).
    NiceGUI itself takes the page from the message alone: a socket could act on any page whose id it knew.
    The user simulation of the tests has no sockets (its ids start with ``test-``)."""
    if sid.startswith("test-"):
        return True
    rooms = core.sio.manager.rooms.get("/", {})
    return sid in rooms.get(client_id, ())


def _guarded(name: str, handler: Callable[..., Any], problem_of: Callable[[object], str | None]) -> Callable[..., Any]:
    def checked(sid: str, msg: object = None, *rest: Any) -> Any:
        problem = "more than one argument" if rest else problem_of(msg)
        if problem is None and not _connected(sid, msg["client_id"]):  # type: ignore[index]
            problem = "a page this socket is not connected to"
        if problem is not None:
            log.warning("dropped a %r message from socket %s: %s", name, sid, problem)
            return None
        return handler(sid, msg)

    setattr(checked, _GUARDED, True)
    return checked


def _write_browser_log(_sid: str, msg: dict[str, Any]) -> None:
    """In place of NiceGUI's ``log`` handler, which writes the line as sent, at the level the page asks."""
    text = msg["message"]
    more = f" ({len(text):,} characters)" if len(text) > LOG_CHARS else ""
    browser_log.debug("page %s, %s: %r%s", msg["client_id"], msg["level"], text[:LOG_CHARS], more)


async def _another_user(sid: str, environ: dict[str, Any], client_id: str) -> str | None:
    """Why socket ``sid`` may not take page ``client_id``: it is not signed in as the user the page was served to
    (its cookie, read as the gate reads a page's, ``app.auth.access.identify``), or ``None`` when it may. A page
    served to nobody (the sign-in page) takes any socket, and so does one NiceGUI does not know (it refuses the
    handshake itself). NiceGUI checks only the page's id and tab: a socket without any cookie could otherwise
    take a signed-in page whose id it had learnt, and act on it. The tests' simulated user has no socket."""
    if sid.startswith("test-"):
        return None
    client = Client.instances.get(client_id)
    request = client.request if client is not None else None
    served_to = getattr(request.state, "identity", None) if request is not None else None
    if not isinstance(served_to, Identity):
        return None
    scope = environ.get("asgi.scope")
    if not isinstance(scope, dict):
        return "a socket without its request"

    def socket_user() -> Identity | None:
        try:
            return identify(HTTPConnection({**scope, "state": {}}))
        except Unauthorized:
            return None

    user = await asyncio.to_thread(socket_user)  # a session's read, as the gate does it
    if user is None or user.name != served_to.name:
        return "a page served to another user (or to a signed-in user, and this socket is not)"
    return None


def _guarded_handshake(handler: Callable[..., Any]) -> Callable[..., Any]:
    async def checked(sid: str, msg: object = None, *rest: Any) -> Any:  # async: python-socketio awaits it then
        problem = "more than one argument" if rest else handshake_problem(msg)
        if problem is None:
            problem = await _another_user(sid, core.sio.get_environ(sid) or {}, msg["client_id"])  # type: ignore[index]
        if problem is not None:
            log.warning("dropped a 'handshake' message from socket %s: %s", sid, problem)
            return False
        return await handler(sid, msg)

    setattr(checked, _GUARDED, True)
    return checked


def _guarded_connect(handler: Callable[..., Any]) -> Callable[..., Any]:
    """NiceGUI's ``connect``: a socket may do its handshake in its URL's query (``implicit_handshake=true``), read
    with the same keys as a ``handshake`` message; one without them is refused, with one warning line."""

    async def checked(sid: str, environ: dict[str, Any], auth: Any = None) -> Any:
        query = {key: values[0] for key, values in parse_qs(str(environ.get("QUERY_STRING", ""))).items()}
        if query.get("implicit_handshake", "") == "true":
            problem = handshake_problem(query)
            if problem is None:
                problem = await _another_user(sid, environ, query["client_id"])
            if problem is not None:
                log.warning("refused a socket %s: its handshake in the URL has %s", sid, problem)
                raise SocketRefused("Implicit handshake failed")
        return await handler(sid, environ, auth)

    setattr(checked, _GUARDED, True)
    return checked
