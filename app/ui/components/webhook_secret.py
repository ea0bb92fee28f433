"""The webhook secret on the Users and tokens page (admins only): masked, with *Copy*, and *Rotate* behind a
confirm dialog; after a rotation, until when the previous secret is still accepted."""

from __future__ import annotations

import asyncio

from nicegui import ui

from app.errors import TooldeskError
from app.runtime import get_runtime
from app.services.webhook_secret import rotate_webhook_secret
from app.states import Role
from app.ui import access
from app.webhooks.secret_set import mask_secret, when


def webhook_secret_section() -> None:
    """The secret's row; *Copy* and *Rotate* check the role and the session again on the click."""
    section = ui.column().classes("gap-1")

    def show() -> None:
        runtime = get_runtime()
        secrets = runtime.webhook_secrets
        section.clear()
        with section, ui.row().classes("items-center gap-2"):
            ui.label("Webhook secret").classes("font-bold")
            ui.label(mask_secret(secrets.current)).classes("font-mono text-grey-8").mark("webhook-secret")
            ui.button("Copy", icon="content_copy", on_click=access.guarded(Role.ADMIN, copy)).props(
                "flat dense no-caps"
            ).mark("copy-secret")
            if secrets.from_env:
                ui.label("set by TOOLDESK_WEBHOOK_SECRET: to rotate, change it there and restart").classes(
                    "text-sm text-grey-7"
                ).mark("secret-from-env")
            else:
                ui.button("Rotate", icon="autorenew", on_click=access.guarded(Role.ADMIN, confirm)).props(
                    "flat dense no-caps"
                ).mark("rotate-secret")
        if secrets.previous is not None and secrets.previous_until is not None:
            with section:
                ui.label(
                    f"previous {mask_secret(secrets.previous)} accepted until {when(secrets.previous_until)}"
                ).classes("text-sm text-grey-7").mark("previous-secret")

    def copy() -> None:
        ui.clipboard.write(get_runtime().secret)
        ui.notify("Webhook secret copied", type="positive")

    def confirm() -> None:
        window = get_runtime().settings.secret_rotation_window
        with ui.dialog() as dialog, ui.card().classes("w-[32rem]"):
            ui.label("Rotate the webhook secret?").classes("font-bold")
            ui.label(
                f"A new secret is made now. Deliveries signed with the current one stay accepted for {window:g} s "
                "(TOOLDESK_SECRET_ROTATION_WINDOW): give the platform the new one before then. The embedded "
                "simulator switches at once."
            )
            with ui.row():
                ui.button("Rotate", on_click=access.guarded(Role.ADMIN, lambda: rotate(dialog))).props(
                    "color=negative"
                ).mark("confirm-rotate")
                ui.button("Cancel", on_click=dialog.close).props("flat")
        dialog.on("hide", dialog.delete)
        dialog.open()

    async def rotate(dialog: ui.dialog) -> None:
        runtime = get_runtime()
        try:
            rotated = await asyncio.to_thread(
                lambda: rotate_webhook_secret(
                    engine=runtime.engine,
                    configured=runtime.settings.webhook_secret,
                    window_seconds=runtime.settings.secret_rotation_window,
                )
            )
        except TooldeskError as exc:
            ui.notify(exc.message, type="negative", multi_line=True)
            return
        finally:
            dialog.close()
        runtime.secret_rotated(rotated)
        ui.notify("Webhook secret rotated: copy the new one for the platform", type="positive")
        show()

    show()
