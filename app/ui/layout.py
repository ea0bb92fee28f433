"""The shared frame: header with navigation, live updates, and the sub pages.

Each browser tab subscribes once, here, to ``app.changes.changes``; the sub
page on screen registers its refresh callback with ``Live.listen`` (NiceGUI
notes: subscribe in the root layout, not in a sub page builder). Changes come
coalesced for the whole process (a few flushes a second at most); the inbox
badge's count is read once per flush for every tab (``app.ui.shared_reads``).
"""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Callable
from typing import Any

from nicegui import background_tasks, events, ui

from app.auth.identity import Identity
from app.changes import changes
from app.runtime import get_runtime
from app.services import sign_in
from app.states import Role, Via
from app.ui import access
from app.ui.live import Live
from app.ui.pages import (
    agents,
    audit,
    cassettes,
    compare,
    deliveries,
    handlers_page,
    inbox,
    overview,
    run,
    runs,
    signin,
    sweep_page,
    sweeps,
    users_page,
)
from app.ui.shared_reads import pending_count

PAGES: dict[str, Callable[..., Any]] = {
    "/": inbox.page,
    "/runs": runs.page,
    "/runs/{task_id}": run.page,
    "/compare": compare.page,
    "/agents": agents.page,
    "/handlers": handlers_page.page,
    "/cassettes": cassettes.page,
    "/deliveries": deliveries.page,
    "/overview": overview.page,
    "/sweeps": sweeps.page,
    "/sweeps/{sweep_id}": sweep_page.page,
    "/audit": audit.page,
    "/account": signin.account_page,
    "/users": users_page.page,
}
"""Every page of the console's frame by path; ``app.auth.gate.PAGE_ROLES`` names those above the viewer's role."""


def root() -> None:
    """The root page: header, navigation, pending-rounds badge, the signed-in user, and the sub pages."""
    ui.colors(primary="#2f5d8a")
    identity = getattr(ui.context.client.request.state, "identity", None)
    if not isinstance(identity, Identity):  # app.auth.gate lets no page through without one
        ui.navigate.to("/signin")
        return
    access.remember(identity)
    live = Live(offline=not ui.context.client.has_socket_connection)  # the page is built before its socket connects
    with ui.header().classes("items-center gap-4 px-6 py-2 bg-white text-grey-9 shadow-1"):
        with ui.row().classes("items-center gap-1"):
            ui.icon("support_agent", color="primary").classes("text-2xl")
            ui.label("Tooldesk").classes("text-lg font-bold text-primary")
        with ui.row().classes("gap-1"):
            with ui.button("Inbox", icon="inbox", on_click=lambda: ui.navigate.to("/")).props("flat no-caps"):
                badge = ui.badge("", color="orange").props("floating").mark("inbox-count")
            ui.button("Runs", icon="timeline", on_click=lambda: ui.navigate.to("/runs")).props("flat no-caps")
            ui.button("Agents", icon="smart_toy", on_click=lambda: ui.navigate.to("/agents")).props("flat no-caps")
            ui.button("Handlers", icon="build", on_click=lambda: ui.navigate.to("/handlers")).props("flat no-caps")
            ui.button("Cassettes", icon="album", on_click=lambda: ui.navigate.to("/cassettes")).props(
                "flat no-caps"
            ).mark("nav-cassettes")
            ui.button("Deliveries", icon="move_to_inbox", on_click=lambda: ui.navigate.to("/deliveries")).props(
                "flat no-caps"
            )
            ui.button("Overview", icon="insights", on_click=lambda: ui.navigate.to("/overview")).props("flat no-caps")
            ui.button("Sweeps", icon="science", on_click=lambda: ui.navigate.to("/sweeps")).props("flat no-caps").mark(
                "nav-sweeps"
            )
            ui.button("Audit", icon="history", on_click=lambda: ui.navigate.to("/audit")).props("flat no-caps").mark(
                "nav-audit"
            )
            if identity.may(Role.ADMIN) and identity.via != Via.OFF:
                ui.button("Users", icon="group", on_click=lambda: ui.navigate.to("/users")).props("flat no-caps").mark(
                    "nav-users"
                )
        ui.space()
        settings = get_runtime().settings
        target = "embedded simulator" if settings.embedded_simulator else settings.platform_url
        ui.label(f"platform: {target}").classes("text-xs text-grey-7")
        ui.link("API docs", "/docs", new_tab=True).classes("text-xs")
        _who(identity)

    async def update_badge() -> None:
        pending = await pending_count.get()  # one COUNT per flush for every tab
        badge.set_text(str(pending))
        badge.set_visibility(pending > 0)

    async def on_change(task_ids: frozenset[int]) -> None:
        if live.hold(task_ids):  # a hidden tab catches up when it is shown again
            return
        background_tasks.create(update_badge(), name="inbox badge")  # the page's refresh need not wait for it
        await live.notify(task_ids)

    async def on_visibility(event: events.GenericEventArguments) -> None:
        state = event.args[0] if isinstance(event.args, list) and event.args else event.args
        missed = live.set_hidden(state == "hidden")
        if missed:
            await on_change(missed)

    client = ui.context.client

    def on_disconnect() -> None:
        if not client.has_socket_connection:  # the tab's last socket: a reconnect may have raced ahead of this one
            live.set_offline(True)

    async def on_connect() -> None:
        missed = live.set_offline(False)
        if missed:
            await on_change(missed)

    def check_session() -> None:
        if identity.via == Via.SESSION:
            access.still_allowed(Role.VIEWER, touch=False)

    changes.subscribe(on_change)
    ui.on(VISIBILITY_EVENT, on_visibility)
    client.on_disconnect(on_disconnect)  # until it reconnects it is held as a hidden tab is (``Live.hidden``)
    client.on_connect(on_connect)
    ui.timer(0, lambda: ui.run_javascript(WATCH_VISIBILITY), once=True)  # once the tab's socket is connected
    ui.timer(SESSION_CHECK_EVERY, check_session)
    _keyboard(live)
    ui.timer(0, update_badge, once=True)
    with ui.column().classes("w-full max-w-6xl mx-auto p-4"):
        ui.sub_pages(
            {path: _fresh(live, page) for path, page in PAGES.items()},
            data={"live": live},
        ).classes("w-full")


VISIBILITY_EVENT = "tab_visibility"
WATCH_VISIBILITY = f"""
document.addEventListener('visibilitychange', () => emitEvent('{VISIBILITY_EVENT}', document.visibilityState));
if (document.hidden) emitEvent('{VISIBILITY_EVENT}', 'hidden');
"""
"""The tab tells the server when it is hidden or shown (``Live.hold``): a browser draws no hidden tab anyway, and
ten tabs in the background then cost the webhook's event loop nothing (issue 10)."""

SESSION_CHECK_EVERY = 30.0
"""Seconds between checks that an open tab's session is alive; an ended one sends the tab to sign-in."""


def _who(identity: Identity) -> None:
    """The signed-in user and *Sign out*, or "sign-in off" in the header."""
    if identity.via == Via.OFF:
        ui.badge("sign-in off", color="negative").mark("sign-in-off")
        return
    ui.button(f"{identity.name} · {identity.role}", icon="person", on_click=lambda: ui.navigate.to("/account")).props(
        "flat dense no-caps size=sm"
    ).mark("account")

    async def sign_out() -> None:
        engine = get_runtime().engine
        await asyncio.to_thread(lambda: sign_in.end_session(engine=engine, id_hash=identity.session_hash))
        ui.navigate.to("/signin")

    ui.button("Sign out", icon="logout", on_click=sign_out).props("flat dense no-caps size=sm").mark("sign-out")


KEYS = [
    ("j / k", "next / previous round in the Inbox"),
    ("Enter", "open the selected round: its first result field"),
    ("Ctrl+Enter or ⌘+Enter", "submit the selected round (works while typing)"),
    ("/", "search runs"),
    ("?", "this list"),
]


def _keyboard(live: Live) -> None:
    """Keys for the whole console; single letters are ignored while typing in a field. The list of keys is
    built the first time ``?`` asks for it, not with every page (fewer elements before the first paint)."""
    holder = ui.element().classes("hidden")  # where the list's dialog goes once built (a dialog shows anywhere)
    dialogs: list[ui.dialog] = []

    def help_dialog() -> ui.dialog:
        if not dialogs:
            with holder, ui.dialog() as dialog, ui.card():
                ui.label("Keyboard").classes("text-lg font-bold")
                for keys, what in KEYS:
                    with ui.row().classes("gap-4"):
                        ui.label(keys).classes("font-mono w-48")
                        ui.label(what)
                ui.button("Close", on_click=dialog.close).props("flat")
            dialogs.append(dialog)
        return dialogs[0]

    async def typing_aside(event: events.KeyEventArguments) -> None:
        if not event.action.keydown:
            return
        name = event.key.name
        if name == "?":
            help_dialog().open()
        elif name == "/":
            if ui.context.client.sub_pages_router.current_path != "/runs":
                live.pending_key = "search"  # the Runs page takes it once it is on screen
                ui.navigate.to("/runs")
            else:
                await live.key("search")
        elif name in {"j", "k", "Enter"}:
            await live.key({"j": "next", "k": "previous", "Enter": "open"}[name])

    async def anywhere(event: events.KeyEventArguments) -> None:
        if event.action.keydown and event.key.enter and (event.modifiers.ctrl or event.modifiers.meta):
            await live.key("submit")

    # "div" too: CodeMirror's editing area is a focusable div (contenteditable), and typing there is typing
    ignore: Any = ["input", "select", "button", "textarea", "div"]
    ui.keyboard(on_key=typing_aside, ignore=ignore).mark("keys")
    ui.keyboard(on_key=anywhere, ignore=[]).mark("keys-anywhere")


def _fresh(live: Live, page: Callable[..., Any]) -> Callable[..., Any]:
    """The page builder, after the previous page's live callbacks are dropped (a page without live updates
    must not keep the last page's keys or refresh). ``functools.wraps`` keeps the signature that
    ``ui.sub_pages`` reads to pass path and query parameters."""

    @functools.wraps(page)
    def build(*args: Any, **kwargs: Any) -> Any:
        live.reset()
        return page(*args, **kwargs)

    return build
