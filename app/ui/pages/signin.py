"""The sign-in page (``/signin``, outside the console's frame) and the Account sub page (set a password)."""

from __future__ import annotations

import asyncio
import math
from urllib.parse import quote

from nicegui import ui

from app.auth.signin_routes import local_path
from app.errors import TooldeskError
from app.runtime import get_runtime
from app.services import sign_in, users
from app.states import Role
from app.ui import access
from app.ui.live import Live

PASSWORD_TICKET_TTL = 60.0
"""Seconds between a checked password and the redirect that turns it into the session cookie."""


def signin_page() -> None:
    """Name and password; a wrong pair is refused with a message, and repeated failures must wait (per name and
    per address, ``app.auth.throttle``). ``?next=`` is where the browser goes after signing in."""
    request = ui.context.client.request
    then = local_path(request.query_params.get("next", "/"))
    address = request.client.host if request.client else ""
    ui.colors(primary="#2f5d8a")
    ui.page_title("Sign in · Tooldesk")
    with ui.card().classes("absolute-center w-96 gap-3 p-6"):
        with ui.row().classes("items-center gap-1"):
            ui.icon("support_agent", color="primary").classes("text-2xl")
            ui.label("Tooldesk").classes("text-lg font-bold text-primary")
        if not get_runtime().settings.auth:
            ui.label("Sign-in is off (TOOLDESK_AUTH=off).").classes("text-sm")
            ui.link("Go to the Inbox", "/")
            return
        name = ui.input("Name").props("autofocus autocomplete=username").classes("w-full").mark("signin-name")
        password = (
            ui.input("Password", password=True, password_toggle_button=True)
            .props("autocomplete=current-password")
            .classes("w-full")
            .mark("signin-password")
        )
        problem = ui.label(request.query_params.get("problem", "")).classes("text-negative text-sm")
        problem.mark("signin-problem")

        async def attempt() -> None:
            runtime = get_runtime()
            who = str(name.value or "").strip()
            wait, started = runtime.throttle.start(name=who, address=address)  # counted as failed until right
            if wait > 0:
                problem.set_text(f"Too many failed sign-ins for this name or address: try again in {math.ceil(wait)} s")
                return
            user = await asyncio.to_thread(
                lambda: users.check_password(engine=runtime.engine, name=who, password=str(password.value or ""))
            )
            if user is None:
                problem.set_text("Wrong name or password: check both, or ask an admin to set a new password")
                password.set_value("")
                return
            runtime.throttle.succeeded(name=who, address=address, started=started)
            ticket = await asyncio.to_thread(
                lambda: sign_in.issue_ticket(
                    engine=runtime.engine,
                    user_id=users.user_id(engine=runtime.engine, name=who),
                    ttl=PASSWORD_TICKET_TTL,
                    then=then,
                )
            )
            ui.navigate.to(f"/signin/ticket?ticket={quote(ticket)}")

        password.on("keydown.enter", attempt)
        ui.button("Sign in", icon="login", on_click=attempt).props("unelevated").classes("w-full").mark("signin")


def account_page(live: Live) -> None:
    """Who is signed in, and a form to set one's own password (the first-start admin lands here)."""
    ui.page_title("Account · Tooldesk")
    identity = access.current()
    ui.label("Account").classes("text-2xl font-bold")
    if identity is None or not identity.session_hash:
        ui.label("Sign-in is off: there is no account to manage.").classes("text-grey-7")
        return
    ui.label(f"Signed in as {identity.name} ({identity.role}).")
    with ui.card().classes("w-96 gap-2"):
        ui.label("Set your password").classes("font-bold")
        first = ui.input("New password", password=True).classes("w-full").mark("new-password")
        second = ui.input("New password again", password=True).classes("w-full").mark("new-password-again")
        problem = ui.label("").classes("text-negative text-sm").mark("password-problem")

        async def save() -> None:
            if first.value != second.value:
                problem.set_text("The two passwords differ: type the same one twice")
                return
            runtime = get_runtime()
            try:
                await asyncio.to_thread(
                    lambda: users.set_password(engine=runtime.engine, name=identity.name, password=str(first.value))
                )
            except TooldeskError as exc:
                problem.set_text(exc.message)
                return
            problem.set_text("")
            ui.notify("Password set", type="positive")
            ui.navigate.to("/")

        ui.button("Save password", icon="key", on_click=access.guarded(Role.VIEWER, save)).props("unelevated").mark(
            "save-password"
        )
