"""Cassettes: recorded runs' tool calls and results; download, export as pytest, import, and play back on an
agent's new runs (strict or loose). Recording is on a run's page (*Record as cassette*)."""

from __future__ import annotations

import asyncio
from typing import Any

from nicegui import events, ui

from app.errors import TooldeskError
from app.runtime import get_runtime
from app.services import cassette_pytest, cassettes
from app.services.cassettes import CassettePublic
from app.states import CassetteMatching, Role
from app.ui import access
from app.ui.format import clock
from app.ui.live import Live


def page(live: Live) -> None:
    ui.page_title("Cassettes · Tooldesk")
    with ui.row().classes("w-full items-center"):
        ui.label("Cassettes").classes("text-2xl font-bold")
        ui.space()
        _import_button()
    ui.label(
        "A cassette keeps every tool call of a run and the result it got. Played back, it answers the agent's new "
        "runs: strict takes the next entry only when tool and arguments are the same, loose the closest entry of "
        "the tool. A call it cannot match gets an error result naming it."
    ).classes("text-sm text-grey-8")
    body = ui.column().classes("w-full gap-3")

    async def refresh(_changed: int = 0) -> None:
        engine = get_runtime().engine
        items = await asyncio.to_thread(lambda: cassettes.list_cassettes(engine=engine))
        if body.is_deleted:  # the person went to another page while this read
            return
        body.clear()
        with body:
            if not items:
                ui.label("No cassette yet: open a run and press Record as cassette, or import a file.").classes(
                    "text-grey-6 italic"
                )
            for item in items:
                _card(item, refresh)

    live.listen(refresh)
    ui.timer(0, refresh, once=True)


def _card(item: CassettePublic, refresh: Any) -> None:
    admin = access.may(Role.ADMIN)
    with ui.card().classes("w-full").props("flat bordered").mark(f"cassette-{item.name}"):
        with ui.row().classes("w-full items-center gap-3"):
            ui.icon("album", color="primary").classes("text-xl")
            ui.label(item.name).classes("font-bold font-mono")
            ui.label(item.agent_name or item.agent_id).classes("text-sm text-grey-7")
            if item.playing:
                ui.badge(f"plays back · {item.matching}", color="positive").mark(f"playing-{item.name}")
            ui.space()
            source = "imported" if item.recorded_from is None else f"recorded from run {item.recorded_from}"
            if item.recorded_from is not None:
                ui.link(source, f"/runs/{item.recorded_from}").classes("text-sm")
            else:
                ui.label(source).classes("text-sm text-grey-7")
            ui.label(clock(item.created_at)).classes("text-xs text-grey-6")
        ui.label(f"{item.entries} tool calls · {', '.join(item.tools)}").classes("text-sm")
        with ui.row().classes("items-center gap-2"):

            async def toggle(event: events.ValueChangeEventArguments[Any]) -> None:
                await _set_playback(item, event.value, matching.value, refresh)

            async def rematch(event: events.ValueChangeEventArguments[Any]) -> None:
                if item.playing:
                    await _set_playback(item, True, event.value, refresh)

            ui.switch("Play back on new runs", value=item.playing, on_change=access.guarded(Role.ADMIN, toggle)).mark(
                f"playback-{item.name}"
            ).set_enabled(admin)
            matching = (
                ui.select(
                    {CassetteMatching.STRICT: "strict", CassetteMatching.LOOSE: "loose"},
                    value=item.matching,
                    on_change=access.guarded(Role.ADMIN, rematch),
                )
                .props("dense outlined")
                .mark(f"matching-{item.name}")
            )
            matching.set_enabled(admin)
            ui.button("Download", icon="download", on_click=lambda: _download(item.id)).props(
                "flat dense no-caps"
            ).mark(f"download-{item.name}")
            ui.button("Export as pytest", icon="science", on_click=lambda: _download(item.id, pytest=True)).props(
                "flat dense no-caps"
            ).tooltip("a Python module with this cassette and pytest fixtures that answer from it").mark(
                f"pytest-{item.name}"
            )

            async def delete() -> None:
                engine = get_runtime().engine
                await asyncio.to_thread(lambda: cassettes.delete_cassette(engine=engine, cassette_id=item.id))
                get_runtime().handlers_changed()
                ui.notify(f"Cassette {item.name} removed", type="info")
                await refresh()

            ui.button("Delete", icon="delete", on_click=access.guarded(Role.ADMIN, delete)).props(
                "flat dense no-caps color=negative"
            ).mark(f"delete-{item.name}").set_visibility(admin)


async def _set_playback(item: CassettePublic, on: bool, matching: CassetteMatching, refresh: Any) -> None:
    runtime = get_runtime()
    try:
        await asyncio.to_thread(
            lambda: cassettes.set_playback(
                engine=runtime.engine,
                agent_id=item.agent_id,
                cassette_id=item.id if on else None,
                matching=CassetteMatching(matching),
            )
        )
    except TooldeskError as exc:
        ui.notify(exc.message, type="negative", multi_line=True)
        return
    runtime.handlers_changed()
    said = f"plays back on {item.agent_name or item.agent_id}'s new runs ({matching})" if on else "no longer plays"
    ui.notify(f"Cassette {item.name} {said}", type="positive" if on else "info")
    await refresh()


async def _download(cassette_id: int, *, pytest: bool = False) -> None:
    engine = get_runtime().engine
    try:
        document = await asyncio.to_thread(lambda: cassettes.cassette_document(engine=engine, cassette_id=cassette_id))
    except TooldeskError as exc:
        ui.notify(f"Not downloaded: {exc.message}", type="negative")
        return
    if pytest:
        source = cassette_pytest.export_pytest(document)
        ui.download.content(source.encode(), f"{cassette_pytest.module_name(document.name)}.py", "text/x-python")
    else:
        ui.download.content(document.model_dump_json(indent=2).encode(), f"{document.name}.json", "application/json")


def _import_button() -> None:
    with ui.dialog() as dialog, ui.card().classes("w-[32rem]"):
        ui.label("Import a cassette").classes("text-lg font-bold")
        ui.label(
            f"A .json file from Download (or GET /api/cassettes/{{id}}.json), at most "
            f"{cassettes.MAX_DOCUMENT_BYTES // 1_000_000} MB."
        ).classes("text-sm text-grey-8")
        problem = ui.label("").classes("text-negative text-sm whitespace-pre-wrap").mark("cassette-import-problem")

        async def received(event: events.UploadEventArguments) -> None:
            raw = await event.file.read()
            engine = get_runtime().engine
            try:
                made = await asyncio.to_thread(lambda: cassettes.import_cassette(engine=engine, document=raw))
            except TooldeskError as exc:
                problem.set_text(f"Not imported: {exc.message}")
                upload.reset()
                return
            dialog.close()
            get_runtime().handlers_changed()
            ui.notify(f"Imported cassette {made.name} ({made.entries} tool calls)", type="positive")

        upload = (
            ui.upload(
                on_upload=access.guarded(Role.ADMIN, received),
                auto_upload=True,
                max_file_size=cassettes.MAX_DOCUMENT_BYTES,
                on_rejected=lambda: problem.set_text(
                    f"Not imported: the file is over {cassettes.MAX_DOCUMENT_BYTES:,} bytes"
                ),
            )
            .props("accept=.json,application/json flat bordered")
            .classes("w-full")
            .mark("cassette-upload")
        )
        ui.button("Close", on_click=dialog.close).props("flat")
    ui.button("Import", icon="upload", on_click=dialog.open).props("outline no-caps").mark(
        "import-cassette"
    ).set_visibility(access.may(Role.ADMIN))
