"""One sweep: its table of outcomes per cell (counts, errors, mean rounds and duration), filling in live as its
runs end, every run below it, *Download CSV* / *Download JSON* and *Cancel sweep*."""

from __future__ import annotations

import asyncio
from typing import Any

from nicegui import ui

from app.errors import NotFound, TooldeskError
from app.protocol import INT64_MAX
from app.runtime import get_runtime
from app.services import sweep_table, sweeps
from app.states import Role, SweepOutcome
from app.ui import access
from app.ui.format import browser_id, duration, stamp
from app.ui.live import Live

SHOWN = [o for o in SweepOutcome if o != SweepOutcome.NOT_STARTED] + [SweepOutcome.NOT_STARTED]
CELL_COLUMNS: list[dict[str, Any]] = [
    {"name": "label", "label": "Cell", "field": "label", "align": "left"},
    {"name": "runs", "label": "Runs", "field": "runs", "align": "right"},
    *[{"name": str(o), "label": str(o).replace("_", " "), "field": str(o), "align": "right"} for o in SHOWN],
    {"name": "errors", "label": "Errors", "field": "errors", "align": "left"},
    {"name": "rounds", "label": "Mean rounds", "field": "rounds", "align": "right"},
    {"name": "took", "label": "Mean duration", "field": "took", "align": "right"},
]
RUN_COLUMNS: list[dict[str, Any]] = [
    {"name": "cell", "label": "Cell", "field": "cell", "align": "left"},
    {"name": "task_id", "label": "Run", "field": "task_id", "align": "left"},
    {"name": "outcome", "label": "Outcome", "field": "outcome", "align": "left"},
    {"name": "error", "label": "Error", "field": "error", "align": "left"},
    {"name": "rounds", "label": "Rounds", "field": "rounds", "align": "right"},
    {"name": "took", "label": "Duration", "field": "took", "align": "right"},
    {"name": "result", "label": "Result", "field": "result", "align": "left"},
]


def page(sweep_id: str, live: Live) -> None:
    ui.page_title(f"Sweep {sweep_id} · Tooldesk")
    number = _sweep_id(sweep_id)
    if number is None:
        _missing(sweep_id)
        return
    with ui.row().classes("w-full items-center gap-3"):
        ui.label(f"Sweep {number}").classes("text-2xl font-bold")
        state = ui.badge("", color="grey").classes("text-base").mark("sweep-state")
        ui.space()
        ui.button("Download CSV", icon="download", on_click=lambda: _download(number, "csv")).props("outline")
        ui.button("Download JSON", icon="download", on_click=lambda: _download(number, "json")).props("outline")
        cancel = ui.button("Cancel sweep", icon="cancel", on_click=access.guarded(Role.ANSWERER, lambda: stop()))
        cancel.props("outline color=negative").mark("cancel-sweep").set_visibility(False)
    about = ui.label("").classes("text-grey-8").mark("sweep-about")
    progress = ui.linear_progress(value=0, show_value=False).classes("w-full")
    cells = ui.table(columns=CELL_COLUMNS, rows=[], row_key="cell").classes("w-full")
    cells.props("flat bordered dense wrap-cells")
    cells.mark("sweep-cells")
    ui.label("Runs").classes("text-lg font-bold mt-4")
    run_rows = ui.table(columns=RUN_COLUMNS, rows=[], row_key="key", pagination=50).classes("w-full")
    run_rows.props("flat bordered dense").mark("sweep-runs")
    run_rows.on("rowClick", lambda event: _open_run(event.args))
    known: set[int] = set()

    async def refresh(changed: int = 0) -> None:
        if changed and known and changed not in known and not _starting(run_rows.rows):
            return  # another run's change
        engine = get_runtime().engine
        try:
            detail = await asyncio.to_thread(lambda: sweep_table.get_sweep(engine=engine, sweep_id=number))
        except NotFound:
            detail = None
        if state.is_deleted:  # the person went to another page while this read
            return
        if detail is None:
            _missing(sweep_id)
            return
        known.update(r.task_id for r in detail.run_rows if r.task_id is not None)
        state.set_text(_state(detail))
        state.props(f"color={'positive' if detail.finished else 'primary'}")
        ttl = f"; rounds expire after {detail.round_ttl:g} s" if detail.round_ttl else ""
        about.set_text(
            f"{detail.agent_name or detail.agent_id} · tool {detail.tool} · {detail.cells} cells × "
            f"{detail.runs_per_cell} runs{ttl} · started {stamp(detail.created_at)} by {detail.created_by} · "
            f"{detail.runs_over} of {detail.runs} runs over"
        )
        progress.set_value(detail.runs_over / detail.runs if detail.runs else 1)
        cancel.set_visibility(access.may(Role.ANSWERER) and not detail.finished and detail.cancelled_at is None)
        cells.rows = [_cell_row(row) for row in detail.table]
        cells.update()
        labels = {row.cell: row.label for row in detail.table}
        run_rows.rows = [_run_row(index, row, labels) for index, row in enumerate(detail.run_rows)]
        run_rows.update()

    async def stop() -> None:
        runtime = get_runtime()
        try:
            asked = await sweeps.cancel_sweep(engine=runtime.engine, client=runtime.client, sweep_id=number)
        except TooldeskError as exc:  # it finished meanwhile: left as it finished
            ui.notify(exc.message, type="info")
            await refresh()
            return
        ui.notify(f"Sweep {number} cancelled: {asked} run(s) asked to stop, no more started", type="warning")
        await refresh()

    live.listen(refresh)
    ui.timer(0, refresh, once=True)


def _state(detail: sweep_table.SweepDetail) -> str:
    if detail.cancelled_at is not None:
        return "cancelled" if detail.finished else "cancelling"
    return "finished" if detail.finished else "running"


def _cell_row(row: sweep_table.CellRow) -> dict[str, Any]:
    errors = "; ".join(f"{code} ×{n}: {row.error_messages[code][:120]}" for code, n in row.errors.items())
    return {
        "cell": row.cell,
        "label": row.label,
        "runs": row.runs,
        **{str(o): row.counts[str(o)] for o in SHOWN},
        "errors": errors,
        "rounds": "" if row.mean_rounds is None else f"{row.mean_rounds:g}",
        "took": duration(row.mean_duration_s),
    }


def _run_row(index: int, row: sweep_table.SweepRunRow, labels: dict[int, str]) -> dict[str, Any]:
    return {
        "key": index,
        "cell": labels.get(row.cell, str(row.cell)),
        "task_id": browser_id(row.task_id),
        "outcome": str(row.outcome).replace("_", " "),
        "error": (row.error or "")[:200],
        "rounds": row.rounds,
        "took": duration(row.duration_s),
        "result": (row.result_preview or "")[:120],
    }


def _starting(rows: list[dict[str, Any]]) -> bool:
    """Whether a run of the table has no task_id yet: its start may be what changed."""
    return any(not row.get("task_id") and row.get("outcome") == "running" for row in rows)


def _open_run(args: Any) -> None:
    row = args[1] if isinstance(args, list) and len(args) > 1 and isinstance(args[1], dict) else {}
    task_id = row.get("task_id")
    if isinstance(task_id, str) and task_id.isascii() and task_id.isdigit():
        ui.navigate.to(f"/runs/{task_id}")


async def _download(sweep_id: int, kind: str) -> None:
    engine = get_runtime().engine
    try:
        detail = await asyncio.to_thread(lambda: sweep_table.get_sweep(engine=engine, sweep_id=sweep_id))
    except NotFound:
        ui.notify(f"Sweep {sweep_id} is gone", type="negative")
        return
    if kind == "csv":
        ui.download.content(sweep_table.table_csv(detail).encode(), f"sweep-{sweep_id}.csv", "text/csv")
    else:
        ui.download.content(sweep_table.table_json(detail).encode(), f"sweep-{sweep_id}.json", "application/json")


def _missing(sweep_id: str) -> None:
    ui.label(f"No sweep {sweep_id}.").classes("text-lg")
    ui.link("All sweeps", "/sweeps")


def _sweep_id(text: str) -> int | None:
    """A sweep id from the URL, or ``None`` when it is not a positive 64-bit integer."""
    if not (text.isascii() and text.isdigit()):
        return None
    value = int(text)
    return value if 0 < value <= INT64_MAX else None
