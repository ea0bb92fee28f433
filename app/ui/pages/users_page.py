"""Users and tokens (admins only): the webhook secret (masked, with Copy and Rotate,
``app.ui.components.webhook_secret``), users (add, remove), API tokens (created and shown once, revoked)."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

from nicegui import ui

from app.errors import TooldeskError
from app.runtime import get_runtime
from app.services import tokens, users
from app.states import Role
from app.ui import access
from app.ui.components.webhook_secret import webhook_secret_section
from app.ui.live import Live

ROLES = [str(role) for role in Role]


def page(live: Live) -> None:
    ui.page_title("Users and tokens · Tooldesk")
    ui.label("Users and tokens").classes("text-2xl font-bold")
    if not access.may(Role.ADMIN):
        ui.label(f"This page needs the role {Role.ADMIN}.").classes("text-negative").mark("needs-admin")
        return
    webhook_secret_section()
    ui.label("Users").classes("text-lg font-bold")
    user_list = ui.column().classes("w-full gap-1")
    with ui.row().classes("items-end gap-2"):
        name = ui.input("Name").mark("user-name")
        role = ui.select(ROLES, value=Role.VIEWER, label="Role").classes("w-36").mark("user-role")
        password = ui.input("Password", password=True).mark("user-password")
        ui.button("Add user", icon="person_add", on_click=access.guarded(Role.ADMIN, lambda: add_user())).mark(
            "add-user"
        )
    ui.separator()
    ui.label("API tokens").classes("text-lg font-bold")
    ui.label("Sent as 'Authorization: Bearer <token>'. A token is shown once, when it is created.").classes(
        "text-sm text-grey-7"
    )
    token_list = ui.column().classes("w-full gap-1")
    with ui.row().classes("items-end gap-2"):
        token_name = ui.input("Token name").mark("token-name")
        token_role = ui.select(ROLES, value=Role.ANSWERER, label="Role").classes("w-36").mark("token-role")
        ui.button("Create token", icon="key", on_click=access.guarded(Role.ADMIN, lambda: create_token())).mark(
            "create-token"
        )

    async def show() -> None:
        engine = get_runtime().engine
        people = await asyncio.to_thread(lambda: users.list_users(engine=engine))
        keys = await asyncio.to_thread(lambda: tokens.list_tokens(engine=engine))
        if user_list.is_deleted:  # the person went to another page while this read
            return
        user_list.clear()
        with user_list:
            for person in people:
                with ui.row().classes("items-center gap-4"):
                    ui.label(person.name).classes("font-mono w-48")
                    ui.label(person.role).classes("w-24")
                    ui.label("password set" if person.has_password else "no password").classes("text-grey-7 w-32")
                    ui.button(
                        icon="delete", on_click=access.guarded(Role.ADMIN, lambda n=person.name: remove_user(n))
                    ).props("flat dense").tooltip("remove this user").mark(f"remove-user-{person.name}")
        token_list.clear()
        with token_list:
            for key in keys:
                with ui.row().classes("items-center gap-4"):
                    ui.label(key.name).classes("w-48")
                    ui.label(key.role).classes("w-24")
                    ui.label(f"{key.prefix}…").classes("font-mono text-grey-7")
                    used = _when(key.last_used_at) if key.last_used_at else "never used"
                    ui.label(f"last used {used}" if key.last_used_at else used).classes("text-sm")
                    if key.revoked_at is not None:
                        ui.label(f"revoked {_when(key.revoked_at)}").classes("text-negative text-sm")
                    else:
                        ui.button("Revoke", on_click=access.guarded(Role.ADMIN, lambda i=key.id: revoke(i))).props(
                            "flat dense no-caps color=negative"
                        ).mark(f"revoke-{key.name}")

    async def add_user() -> None:
        engine = get_runtime().engine
        try:
            await asyncio.to_thread(
                lambda: users.add_user(
                    engine=engine, name=str(name.value or "").strip(), role=Role(role.value), password=password.value
                )
            )
        except TooldeskError as exc:
            ui.notify(exc.message, type="negative", multi_line=True)
            return
        name.set_value("")
        password.set_value("")
        await show()

    async def remove_user(who: str) -> None:
        engine = get_runtime().engine
        try:
            await asyncio.to_thread(lambda: users.remove_user(engine=engine, name=who))
        except TooldeskError as exc:
            ui.notify(exc.message, type="negative", multi_line=True)
        await show()

    async def create_token() -> None:
        engine = get_runtime().engine
        creator = (access.current() or access.SIGNED_OUT).name
        try:
            _, token = await asyncio.to_thread(
                lambda: tokens.create_token(
                    engine=engine, name=str(token_name.value or ""), role=Role(token_role.value), created_by=creator
                )
            )
        except TooldeskError as exc:
            ui.notify(exc.message, type="negative", multi_line=True)
            return
        with ui.dialog() as dialog, ui.card().classes("w-[36rem]"):
            ui.label("Copy the token now: it is not shown again.").classes("font-bold")
            ui.input(value=token).props("readonly").classes("w-full font-mono").mark("new-token")
            with ui.row():
                ui.button("Copy", icon="content_copy", on_click=lambda: ui.clipboard.write(token))
                ui.button("Close", on_click=dialog.close).props("flat")
        dialog.on("hide", dialog.delete)
        dialog.open()
        token_name.set_value("")
        await show()

    async def revoke(token_id: int) -> None:
        engine = get_runtime().engine
        await asyncio.to_thread(lambda: tokens.revoke_token(engine=engine, token_id=token_id))
        await show()

    ui.timer(0, show, once=True)


def _when(at: float) -> str:
    return datetime.fromtimestamp(at, tz=UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
