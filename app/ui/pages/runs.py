"""Runs: every run with its status, newest first, live."""

import asyncio

from nicegui import events, ui

from app.runtime import get_runtime
from app.services import runs
from app.ui.format import stamp
from app.ui.live import Live

COLUMNS = [
    {"name": "task_id", "label": "task_id", "field": "task_id", "align": "left"},
    {"name": "agent", "label": "Agent", "field": "agent", "align": "left"},
    {"name": "status", "label": "Status", "field": "status", "align": "left"},
    {"name": "round", "label": "Round", "field": "round", "align": "left"},
    {"name": "environment", "label": "Environment", "field": "environment", "align": "left"},
    {"name": "started_by", "label": "Started by", "field": "started_by", "align": "left"},
    {"name": "created", "label": "Created", "field": "created", "align": "left"},
    {"name": "updated", "label": "Updated", "field": "updated", "align": "left"},
]


def page(live: Live) -> None:
    ui.page_title("Runs · Tooldesk")
    ui.label("Runs").classes("text-2xl font-bold")
    table = (
        ui.table(columns=COLUMNS, rows=[], row_key="task_id", pagination=50)
        .classes("w-full")
        .props("flat bordered")
        .mark("runs-table")
    )
    table.add_slot(
        "body-cell-status",
        """
        <q-td :props="props"><q-badge :color="{queued:'grey-6',running:'blue-6',awaiting_tool_calls:'orange-7',
        completed:'positive',failed:'negative',cancelled:'grey-8',expired:'brown-5',lost:'grey-5'}[props.value] || 'purple-5'"
        :label="props.value" /></q-td>""",
    )

    def open_run(event: events.GenericEventArguments) -> None:
        ui.navigate.to(f"/runs/{event.args[1]['task_id']}")

    table.on("rowClick", open_run)

    async def refresh(_task_id: int = 0) -> None:
        engine = get_runtime().engine
        items, _total = await asyncio.to_thread(lambda: runs.list_runs(engine=engine, limit=500))
        table.rows = [
            {
                "task_id": item.task_id,
                "agent": item.agent_name or item.agent_id,
                "status": item.status,
                "round": item.round or "",
                "environment": item.environment or "",
                "started_by": item.started_by or "",
                "created": stamp(item.created_at),
                "updated": stamp(item.updated_at),
            }
            for item in items
        ]
        table.update()

    live.listen(refresh)
    ui.timer(0, refresh, once=True)
