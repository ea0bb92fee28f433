"""Socket.IO messages from browsers, checked for shape before NiceGUI reads them.

NiceGUI's handlers of the ``event``, ``javascript_response`` and ``ack`` messages index into the message as its
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
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from typing import Any

from nicegui import Client, core

log = logging.getLogger(__name__)

_GUARDED = "_tooldesk_guarded"


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def event_problem(msg: object) -> str | None:
    """What is wrong with an ``event`` message, or ``None`` when NiceGUI can take it."""
    if not isinstance(msg, dict):
        return f"a {type(msg).__name__}, not an object"
    if not isinstance(msg.get("client_id"), str):
        return "no client_id"
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
        try:
            json.loads(arg)
        except ValueError:
            return "an argument is not JSON"
    client = Client.instances.get(msg["client_id"])
    element = client.elements.get(msg["id"]) if client is not None else None
    if element is not None and msg["listener_id"] not in element._event_listeners:
        return "an unknown listener_id"
    return None


def javascript_response_problem(msg: object) -> str | None:
    """What is wrong with a ``javascript_response`` message, or ``None``."""
    if not isinstance(msg, dict):
        return f"a {type(msg).__name__}, not an object"
    if not isinstance(msg.get("client_id"), str):
        return "no client_id"
    if not isinstance(msg.get("request_id"), str):
        return "no request_id"
    return None


def ack_problem(msg: object) -> str | None:
    """What is wrong with an ``ack`` message, or ``None``."""
    if not isinstance(msg, dict):
        return f"a {type(msg).__name__}, not an object"
    if not isinstance(msg.get("client_id"), str):
        return "no client_id"
    if not _is_int(msg.get("next_message_id")):
        return "no next_message_id"
    return None


CHECKS: dict[str, Callable[[object], str | None]] = {
    "event": event_problem,
    "javascript_response": javascript_response_problem,
    "ack": ack_problem,
}


def install() -> None:
    """Wrap NiceGUI's handlers of the messages in ``CHECKS`` (once per process: NiceGUI registers them at import,
    and tests build the app again and again)."""
    handlers: dict[str, Any] = core.sio.handlers.setdefault("/", {})
    for name, problem_of in CHECKS.items():
        handler = handlers.get(name)
        if handler is None or getattr(handler, _GUARDED, False):
            continue
        handlers[name] = _guarded(name, handler, problem_of)


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
