"""Moving handlers in and out: export every agent and handler as JSON, import such a file, and download an
agent's handlers as a Python module for the platform SDK."""

from __future__ import annotations

import asyncio
from urllib.parse import quote

from nicegui import events, ui

from app.errors import TooldeskError
from app.runtime import get_runtime
from app.services import config_io
from app.states import Role
from app.ui import access

MAX_UPLOAD_BYTES = config_io.MAX_DOCUMENT_BYTES


def config_buttons() -> None:
    """*Export config* (a download of ``GET /api/config``) and *Import config* (an upload, all or nothing)."""
    with ui.row().classes("items-center gap-2"):
        ui.button("Export config", icon="download").props(
            "outline no-caps href=/api/config download=tooldesk-config.json tag=a"
        ).tooltip("every agent and handler as one JSON document").mark("export-config").set_visibility(
            access.may(Role.ADMIN)
        )
        with ui.dialog() as dialog, ui.card().classes("w-[32rem]"):
            ui.label("Import config").classes("text-lg font-bold")
            ui.label(
                "A JSON file from Export config (or GET /api/config). Everything is checked first: either all of "
                "it is imported, as new versions, or nothing is."
            ).classes("text-sm text-grey-8")
            problem = ui.label("").classes("text-negative text-sm whitespace-pre-wrap").mark("import-problem")

            async def received(event: events.UploadEventArguments) -> None:
                raw = await event.file.read()
                runtime = get_runtime()
                try:
                    report = await asyncio.to_thread(
                        lambda: config_io.import_config(engine=runtime.engine, document=raw)
                    )
                except TooldeskError as exc:
                    problem.set_text(f"Nothing was imported: {exc.message}")
                    upload.reset()
                    return
                dialog.close()
                runtime.handlers_changed()
                ui.notify(f"Imported: {report.summary}", type="positive")

            upload = (
                ui.upload(
                    on_upload=access.guarded(Role.ADMIN, received), auto_upload=True, max_file_size=MAX_UPLOAD_BYTES
                )
                .props("accept=.json,application/json flat bordered")
                .classes("w-full")
                .mark("import-upload")
            )
            ui.button("Close", on_click=dialog.close).props("flat")
        ui.button("Import config", icon="upload", on_click=dialog.open).props("outline no-caps").mark(
            "import-config"
        ).set_visibility(access.may(Role.ADMIN))


def python_export_link(agent_id: str, name: str) -> None:
    """A download of the agent's handlers as a module with a ``tools`` dict (``process_webhook_tools``)."""
    ui.button("Export as Python", icon="code").props(
        f"flat dense no-caps size=sm href=/api/agents/{quote(agent_id, safe='')}/handlers.py tag=a"
    ).tooltip(f"{name}'s handlers as a Python module for the platform SDK").mark(
        f"export-python-{agent_id}"
    ).set_visibility(access.may(Role.ADMIN))
