"""Sweeps: set up a robustness sweep (an agent, a tool, the cells, runs per cell) and list the sweeps so far.

Starting calls the same services as ``POST /api/sweeps`` (``app.services.sweeps``), then opens the sweep's page
(``app.ui.pages.sweep_page``), where its table fills in live.
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

from nicegui import ui
from pydantic import ValidationError

from app.errors import TooldeskError, field_problem
from app.models import Agent
from app.runtime import get_runtime
from app.services import agents, sweep_table, sweeps
from app.states import Role, SweepCellKind
from app.ui import access
from app.ui.format import stamp
from app.ui.live import Live

CELL_TEXT = {
    SweepCellKind.NORMAL: "normal answer (the tool's handler, or the value below)",
    SweepCellKind.EMPTY: "empty",
    SweepCellKind.IS_ERROR: "is_error",
    SweepCellKind.LARGE: "100 KB",
    SweepCellKind.UNICODE: "Unicode and right-to-left text",
    SweepCellKind.MALFORMED_JSON: "malformed JSON",
    SweepCellKind.NO_ANSWER: "no answer until expiry",
}
"""What the form calls each kind of cell."""
COLUMNS: list[dict[str, Any]] = [
    {"name": "id", "label": "Sweep", "field": "id", "align": "left"},
    {"name": "agent", "label": "Agent", "field": "agent", "align": "left"},
    {"name": "tool", "label": "Tool", "field": "tool", "align": "left"},
    {"name": "runs", "label": "Runs over", "field": "runs", "align": "left"},
    {"name": "state", "label": "State", "field": "state", "align": "left"},
    {"name": "created", "label": "Started", "field": "created", "align": "left"},
]


def page(live: Live) -> None:
    ui.page_title("Sweeps · Tooldesk")
    ui.label("Sweeps").classes("text-2xl font-bold")
    ui.label("Answer one tool of an agent with bad answers, start runs for each, and see how the agent copes.").classes(
        "text-grey-8"
    )
    form = ui.card().classes("w-full")
    if access.may(Role.ANSWERER):
        ui.timer(0, lambda: _form(form), once=True)
    else:
        form.set_visibility(False)
    ui.label("Sweeps so far").classes("text-lg font-bold mt-4")
    table = ui.table(columns=COLUMNS, rows=[], row_key="id").classes("w-full").props("flat bordered dense")
    table.mark("sweeps-table")
    table.on("rowClick", lambda event: _open_row(event.args))

    async def load(_changed: int = 0) -> None:
        engine = get_runtime().engine
        found = await asyncio.to_thread(lambda: sweep_table.list_sweeps(engine=engine))
        table.rows = [_row(sweep) for sweep in found]
        table.update()

    live.listen(load)
    ui.timer(0, load, once=True)


def _row(sweep: sweep_table.SweepSummary) -> dict[str, Any]:
    state = "finished" if sweep.finished else "running"
    if sweep.cancelled_at is not None:
        state = "cancelled" if sweep.finished else "cancelling"
    return {
        "id": sweep.id,
        "agent": sweep.agent_name or sweep.agent_id,
        "tool": sweep.tool,
        "runs": f"{sweep.runs_over} of {sweep.runs}",
        "state": state,
        "created": stamp(sweep.created_at),
    }


def _open_row(args: Any) -> None:
    row = args[1] if isinstance(args, list) and len(args) > 1 and isinstance(args[1], dict) else {}
    sweep_id = row.get("id")
    if isinstance(sweep_id, int) and not isinstance(sweep_id, bool):
        ui.navigate.to(f"/sweeps/{sweep_id}")


async def _form(card: ui.card) -> None:
    """The set-up form: agent, tool (of that agent), cells, runs per cell, round expiry; *Start sweep*."""
    runtime = get_runtime()
    listed = await asyncio.to_thread(lambda: agents.list_agents(engine=runtime.engine))
    if not listed:  # not synced yet (the console has just started): ask the platform once
        with contextlib.suppress(TooldeskError):
            listed = await agents.sync_agents(engine=runtime.engine, client=runtime.client)
    by_id: dict[str, Agent] = {agent.agent_id: agent for agent in listed}
    with card:
        ui.label("New sweep").classes("text-lg font-bold")
        if not by_id:
            ui.label("No agents yet: sync them on the Agents page.").classes("text-grey-6 italic")
            return
        with ui.row().classes("items-end gap-3 w-full"):
            agent = ui.select({a.agent_id: a.name for a in listed}, label="Agent", value=listed[0].agent_id)
            agent.props("outlined dense").classes("min-w-48").mark("sweep-agent")
            tool = ui.select([], label="Tool").props("outlined dense").classes("min-w-48").mark("sweep-tool")
            runs = ui.number("Runs per cell", value=2, min=1, max=sweeps.MAX_RUNS, precision=0)
            runs.props("outlined dense").classes("w-32").mark("sweep-runs")
            ttl_default = 30 if runtime.settings.embedded_simulator else None
            ttl = ui.number("Round expiry (s)", value=ttl_default, min=1, max=86_400)
            ttl.props("outlined dense clearable").classes("w-40").mark("sweep-ttl").tooltip(
                "asks the platform to expire this sweep's rounds after so many seconds (the simulators do; "
                "empty: the platform's own expiry). No-answer cells end then."
            )
        ui.label("Cells: the answers the tool gets").classes("text-sm text-grey-8")
        with ui.row().classes("gap-2 flex-wrap"):
            boxes = {kind: ui.checkbox(text, value=True).mark(f"cell-{kind}") for kind, text in CELL_TEXT.items()}
        value = ui.input("Normal answer (empty: the tool's handler answers)").props("outlined dense")
        value.classes("w-full").mark("sweep-value")

        def tools_of(agent_id: str | None) -> None:
            names = [str(t.get("name")) for t in by_id[agent_id].tools] if agent_id in by_id else []
            tool.set_options(names, value=names[0] if names else None)

        agent.on_value_change(lambda event: tools_of(event.value))
        tools_of(agent.value)

        async def start() -> None:
            cells: list[dict[str, Any]] = []
            for kind, box in boxes.items():
                if box.value:
                    given = (value.value or None) if kind == SweepCellKind.NORMAL else None
                    cells.append({"kind": str(kind), "value": given})
            raw = {
                "agent_id": agent.value,
                "tool": tool.value,
                "cells": cells,
                "runs_per_cell": int(runs.value) if isinstance(runs.value, int | float) else runs.value,
                "round_ttl": ttl.value or None,
            }
            try:
                body = sweeps.SweepIn.model_validate(raw)
            except ValidationError as exc:
                ui.notify(f"Sweep not started: {field_problem(exc)}", type="negative", multi_line=True)
                return
            identity = access.current()
            who = identity.name if identity is not None and identity.name else "console"
            try:
                sweep = await asyncio.to_thread(
                    lambda: sweeps.create_sweep(engine=runtime.engine, body=body, created_by=who)
                )
            except TooldeskError as exc:
                ui.notify(f"Sweep not started: {exc.message}", type="negative", multi_line=True)
                return
            assert sweep.id is not None
            runtime.sweep_created(sweep.id)
            ui.navigate.to(f"/sweeps/{sweep.id}")

        ui.button("Start sweep", icon="science", on_click=access.guarded(Role.ANSWERER, start)).props(
            "unelevated"
        ).mark("start-sweep")
