"""Moving handlers in and out: export every agent and handler as JSON, import such a file, and download an
agent's handlers as a Python module for the platform SDK.

Both downloads are made on the server and handed to the browser with ``ui.download.content``: the page stays where
it is. (A link to the ``/api`` route was followed as an in-app navigation and replaced the page with a 404.)"""

from __future__ import annotations

import asyncio

from nicegui import events, ui

from app.errors import TooldeskError
from app.runtime import get_runtime
from app.services import config_io, export_python
from app.states import Role
from app.ui import access

MAX_UPLOAD_BYTES = config_io.MAX_DOCUMENT_BYTES


def config_buttons() -> None:
    """*Export config* (a download of what ``GET /api/config`` gives, ``tooldesk-config.json``) and *Import config*
    (an upload, all or nothing)."""
    with ui.row().classes("items-center gap-2"):
        ui.button("Export config", icon="download", on_click=access.guarded(Role.ADMIN, _export_config)).props(
            "outline no-caps"
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
    """A download of the agent's handlers as a module with a ``tools`` dict (``process_webhook_tools``), named
    after the agent (``clock_tools.py``)."""

    async def download() -> None:
        engine = get_runtime().engine
        try:
            source, module = await asyncio.to_thread(
                lambda: (
                    export_python.export_python(engine=engine, agent_id=agent_id),
                    export_python.python_module_name(engine=engine, agent_id=agent_id),
                )
            )
        except TooldeskError as exc:
            ui.notify(f"Not exported: {exc.message}", type="negative", multi_line=True)
            return
        ui.download.content(source.encode(), f"{module}.py", "text/x-python")

    ui.button("Export as Python", icon="code", on_click=access.guarded(Role.ADMIN, download)).props(
        "flat dense no-caps size=sm"
    ).tooltip(f"{name}'s handlers as a Python module for the platform SDK").mark(
        f"export-python-{agent_id}"
    ).set_visibility(access.may(Role.ADMIN))


async def _export_config() -> None:
    engine = get_runtime().engine
    document = await asyncio.to_thread(lambda: config_io.export_config_json(engine=engine))
    ui.download.content(document.encode(), "tooldesk-config.json", "application/json")
