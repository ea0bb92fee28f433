"""The signed-in user of a page, and the role checks of its buttons.

The root page keeps the identity its HTTP request proved (``app.auth.gate`` let it through) in the client's
storage. Buttons a role may not use are hidden (``may``), and every event handler that changes something is wrapped
in ``guarded(role, handler)``: a browser can send any event, so the server checks again, and also that the session
has not ended (sign-out elsewhere, idle timeout) since the page was built.
"""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Awaitable, Callable
from typing import Any, ParamSpec

from nicegui import app, ui

from app.auth.identity import Identity
from app.runtime import get_runtime
from app.services import audit, sign_in
from app.states import Role, Via

P = ParamSpec("P")
SIGNED_OUT = Identity(name="", role=Role.VIEWER, via=Via.SESSION)
KEY = "identity"


def remember(identity: Identity) -> None:
    """Keep ``identity`` as the current page's user (called by the root page)."""
    app.storage.client[KEY] = identity


def current() -> Identity | None:
    """The current page's user, as it was when the page was built."""
    found = app.storage.client.get(KEY)
    return found if isinstance(found, Identity) else None


def may(role: Role) -> bool:
    """True when the current page's user has ``role`` or above: whether to show a button."""
    identity = current()
    return identity is not None and identity.may(role)


def still_allowed(role: Role, *, touch: bool = True) -> bool:
    """Check again, on the server, that the page's session is alive and its role includes ``role``. When the
    session has ended the tab goes to the sign-in page; when the role is too low the user is told which is
    needed. Returns whether to go on. ``touch``: count this as use of the session (an action), not only a check.
    (One primary-key read, done in place: a thread hop would cost more.)"""
    identity = current()
    if identity is not None and identity.via == Via.SESSION:
        runtime = get_runtime()
        identity = sign_in.identify_session_hash(
            engine=runtime.engine,
            id_hash=identity.session_hash,
            idle_timeout=runtime.settings.session_idle_timeout,
            touch=touch,
        )
    if identity is None:
        ui.notify("Your sign-in has ended: sign in again", type="warning")
        ui.navigate.to("/signin")
        return False
    if not identity.may(role):
        ui.notify(f"This needs the role {role}; you are {identity.role}", type="negative")
        return False
    return True


def guarded(role: Role, handler: Callable[P, Awaitable[Any] | Any]) -> Callable[P, Awaitable[None]]:
    """``handler`` run only when ``still_allowed(role)``; for ``on_click`` and other events."""

    @functools.wraps(handler)  # NiceGUI reads the signature to decide whether to pass the event's arguments
    async def run(*args: P.args, **kwargs: P.kwargs) -> None:
        if not still_allowed(role):
            return
        identity = current()
        with audit.acting(audit.who(identity) if identity is not None else audit.NOBODY):
            result = handler(*args, **kwargs)
            if asyncio.iscoroutine(result):
                await result

    return run
