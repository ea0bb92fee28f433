"""*Record as cassette* on a run's page: every tool call of its answered rounds and the result it got become a
cassette (``app.services.cassettes.record_run``), listed on the Cassettes page."""

from __future__ import annotations

import asyncio

from nicegui import ui

from app.errors import TooldeskError
from app.runtime import get_runtime
from app.services import cassettes
from app.states import Role
from app.ui import access


def record_button(task_id: int) -> None:
    """The button (admins only); a notice names the new cassette."""

    async def record() -> None:
        engine = get_runtime().engine
        try:
            made = await asyncio.to_thread(lambda: cassettes.record_run(engine=engine, task_id=task_id))
        except TooldeskError as exc:
            ui.notify(f"Not recorded: {exc.message}", type="negative", multi_line=True)
            return
        ui.notify(
            f"Recorded as cassette {made.name} ({made.entries} tool calls): play it back from the Cassettes page",
            type="positive",
            multi_line=True,
        )

    ui.button("Record as cassette", icon="album", on_click=access.guarded(Role.ADMIN, record)).props("outline").tooltip(
        "every tool call of this run and the result it got, kept to answer new runs of this agent"
    ).mark("record-cassette").set_visibility(access.may(Role.ADMIN))
