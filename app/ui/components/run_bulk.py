"""The Runs page's selection bar: how many runs are selected, and *Cancel selected* / *Run again selected*.

The table's checkboxes select runs (its header checkbox selects every run of the page shown); a selection kept
across pages is sent whole, up to ``run_bulk.MAX_BULK`` runs. Each run goes through the service its own page's
button uses (``app.services.run_bulk``), and a dialog then says what became of each.
"""

from __future__ import annotations

from nicegui import ui

from app.runtime import get_runtime
from app.services import run_bulk
from app.states import BulkAction, BulkOutcome, Role
from app.ui import access
from app.ui.format import id_from_browser

OUTCOME_COLORS = {
    BulkOutcome.SENT: "positive",
    BulkOutcome.STARTED: "positive",
    BulkOutcome.SKIPPED: "grey-7",
    BulkOutcome.REFUSED: "negative",
    BulkOutcome.NOT_FOUND: "negative",
}
ACTIONS = {BulkAction.CANCEL: "Cancel", BulkAction.RUN_AGAIN: "Run again"}


class BulkBar:
    """Built above the runs table; ``attach`` ties it to the table once the table exists."""

    def __init__(self) -> None:
        self.table: ui.table | None = None
        with ui.row().classes("w-full items-center gap-3").mark("runs-bulk") as self.row:
            self.count = ui.label("").classes("text-sm").mark("runs-selected")
            self.cancel = (
                ui.button(
                    "Cancel selected",
                    icon="cancel",
                    on_click=access.guarded(Role.ANSWERER, lambda: self.run(BulkAction.CANCEL)),
                )
                .props("outline dense color=negative")
                .mark("bulk-cancel")
            )
            self.again = (
                ui.button(
                    "Run again selected",
                    icon="replay",
                    on_click=access.guarded(Role.ANSWERER, lambda: self.run(BulkAction.RUN_AGAIN)),
                )
                .props("outline dense")
                .mark("bulk-run-again")
            )
            ui.button("Clear selection", on_click=self.clear).props("flat dense no-caps").mark("bulk-clear")
        self.row.set_visibility(False)

    def attach(self, table: ui.table) -> None:
        self.table = table
        table.on_select(self.show)

    def selected(self) -> list[int]:
        """The selected runs' task_ids (sent to the browser as text, ``browser_id``), in table order."""
        rows = self.table.selected if self.table is not None else []
        return [task_id for row in rows if (task_id := id_from_browser(row.get("task_id"))) is not None]

    def show(self) -> None:
        count = len(self.selected())
        self.row.set_visibility(count > 0)
        over = count > run_bulk.MAX_BULK
        self.count.set_text(
            f"{count} run{'' if count == 1 else 's'} selected"
            + (f" (at most {run_bulk.MAX_BULK} at once: select fewer)" if over else "")
        )
        for button in (self.cancel, self.again):
            button.set_enabled(not over and access.may(Role.ANSWERER))

    def clear(self) -> None:
        if self.table is not None:
            self.table.selected.clear()
            self.table.update()
        self.show()

    async def run(self, action: BulkAction) -> None:
        task_ids = self.selected()
        if not task_ids or len(task_ids) > run_bulk.MAX_BULK:
            ui.notify(f"Select 1 to {run_bulk.MAX_BULK} runs first", type="warning")
            return
        runtime = get_runtime()
        identity = access.current()
        done = await run_bulk.bulk_runs(
            engine=runtime.engine,
            client=runtime.client,
            request=run_bulk.BulkRequest(action=action, task_ids=task_ids),
            started_by=f"{identity.name if identity else 'person'} (console, bulk)",
        )
        runtime.runs_bulk_done(started=done.started(), checked=done.checked())
        self.clear()
        _results_dialog(done)


def _results_dialog(done: run_bulk.BulkDone) -> None:
    with ui.dialog() as dialog, ui.card().classes("w-[40rem] max-w-full").mark("bulk-results"):
        dialog.on("hide", dialog.delete)
        ui.label(f"{ACTIONS[done.action]}: {len(done.results)} run(s)").classes("text-lg font-bold")
        for result in done.results:
            with ui.row().classes("items-center gap-2 no-wrap"):
                ui.badge(result.outcome, color=OUTCOME_COLORS[result.outcome])
                ui.link(f"run {result.task_id}", f"/runs/{result.task_id}")
                ui.label(result.message).classes("text-sm").mark(f"bulk-result-{result.task_id}")
                if result.started_task_id is not None:
                    ui.link("open", f"/runs/{result.started_task_id}").classes("text-sm")
        ui.button("Close", on_click=dialog.close).props("flat")
    dialog.open()
