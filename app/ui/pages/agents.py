"""Agents: the platform's agents with their tools; start a run with string inputs and an environment."""

import asyncio

from nicegui import ui

from app.errors import TooldeskError
from app.models import Agent
from app.protocol import StartRun
from app.runtime import get_runtime
from app.services import agents, demo
from app.states import Role
from app.ui import access
from app.ui.live import Live

ENVIRONMENTS = ["playground", "staging", "production"]


def page(live: Live) -> None:
    ui.page_title("Agents · Tooldesk")
    with ui.row().classes("w-full items-center"):
        ui.label("Agents").classes("text-2xl font-bold")
        ui.space()
        demo_button = ui.button(
            "Run demo", icon="rocket_launch", on_click=access.guarded(Role.ADMIN, lambda: ask_demo())
        ).props("unelevated")
        demo_button.tooltip(
            "starts every demo agent once, answered by the demo's own handlers; your handlers stay as they are"
        ).mark("run-demo").set_visibility(access.may(Role.ADMIN))
        # a read of the platform's list (every role's page load makes it too); guarded for the session's sake
        ui.button(
            "Sync from platform", icon="sync", on_click=access.guarded(Role.VIEWER, lambda: sync(announce=True))
        ).props("outline").mark("sync-agents")
    grid = ui.column().classes("w-full gap-4")

    def render(items: list[Agent]) -> None:
        if grid.is_deleted:  # the person went to another page while this read
            return
        grid.clear()
        with grid:
            if not items:
                ui.label("No agents yet: the platform listed none, or it could not be reached.").classes(
                    "text-grey-6 italic"
                )
            for agent in items:
                _agent_card(agent)

    async def sync(announce: bool = False) -> None:
        runtime = get_runtime()
        try:
            items = await agents.sync_agents(engine=runtime.engine, client=runtime.client)
        except TooldeskError as exc:
            ui.notify(f"Could not list agents: {exc.message}", type="negative", multi_line=True)
            items = await asyncio.to_thread(lambda: agents.list_agents(engine=runtime.engine))
        else:
            if announce:
                ui.notify(f"{len(items)} agent(s) synced", type="positive")
        render(items)

    async def ask_demo() -> None:
        """Say what the demo will do (which agents, how many runs, that saved handlers stay) and start it on yes."""
        runtime = get_runtime()
        demo_button.disable()  # one click, one demo
        try:
            planned = await demo.demo_agents(engine=runtime.engine, client=runtime.client)
            if not planned:
                ui.notify("Demo not started: the platform lists none of the demo agents", type="warning")
                return
            if await _demo_dialog([agent.name for agent in planned]) and access.still_allowed(Role.ADMIN):
                await start_demo()
        except TooldeskError as exc:
            ui.notify(f"Demo not started: {exc.message}", type="negative", multi_line=True)
        finally:
            demo_button.enable()

    async def start_demo() -> None:
        runtime = get_runtime()
        started = await demo.run_demo(engine=runtime.engine, client=runtime.client)
        for run in started:
            runtime.run_started(run.task_id)
        runs = ", ".join(str(run.task_id) for run in started)
        ui.notify(
            f"Demo started: {len(started)} run(s) ({runs}), answered by the demo's handlers; your handlers and "
            "modes are unchanged. Follow them on Runs.",
            type="positive",
            multi_line=True,
        )

    ui.timer(0, sync, once=True)


async def _demo_dialog(names: list[str]) -> bool:
    """Ask before the demo starts; True when the person pressed *Start demo*."""
    with ui.dialog() as dialog, ui.card().classes("w-[32rem]").mark("demo-dialog"):
        ui.label("Run demo").classes("text-lg font-bold")
        ui.label(
            f"Starts {len(names)} run(s), one of each demo agent: {', '.join(names)}. The demo's own handlers "
            "(fixtures/handlers) answer their rounds automatically."
        )
        ui.label("Your saved handlers and their modes stay as they are: they keep answering every other run.").classes(
            "text-grey-8"
        )
        with ui.row().classes("w-full justify-end"):
            ui.button("Cancel", on_click=lambda: dialog.submit(False)).props("flat")
            ui.button("Start demo", icon="rocket_launch", on_click=lambda: dialog.submit(True)).mark("start-demo")
    answer = await dialog
    dialog.delete()
    return bool(answer)


TOOLS_SHOWN = 100
"""Tools of an agent drawn as chips: an agent of 20,000 tools held the event loop about 10 s a visit."""


def _agent_card(agent: Agent) -> None:
    with ui.card().classes("w-full").mark(f"agent-{agent.name}"):
        ui.label(agent.name).classes("text-lg font-bold")
        if agent.description:
            ui.label(agent.description).classes("text-grey-8")
        with ui.row().classes("gap-1"):
            for tool in agent.tools[:TOOLS_SHOWN]:
                ui.chip(tool["name"], icon="build").props("outline dense").tooltip(tool.get("description", ""))
            if len(agent.tools) > TOOLS_SHOWN:
                more = len(agent.tools) - TOOLS_SHOWN
                ui.label(f"… and {more:,} more tools (the Handlers page lists them all)").classes(
                    "text-sm text-grey-7 self-center"
                ).mark(f"more-tools-{agent.name}")
        inputs = agent.inputs or [{"key": "1", "label": "Input", "default": ""}]
        with ui.row().classes("items-end gap-3"):
            fields = {
                item["key"]: ui.input(item.get("label") or item["key"], value=item.get("default", ""))
                .props("outlined dense")
                .mark(f"input-{agent.name}-{item['key']}")
                for item in inputs
            }
            environment = ui.select(ENVIRONMENTS, value="playground", label="Environment").props("outlined dense")

            async def start() -> None:
                runtime = get_runtime()
                body = StartRun(
                    string_inputs={key: field.value or "" for key, field in fields.items()},
                    environment=environment.value,
                )
                try:
                    started = await agents.start_run(
                        engine=runtime.engine,
                        client=runtime.client,
                        agent_id=agent.agent_id,
                        body=body,
                        started_by="person (console)",
                    )
                except TooldeskError as exc:
                    ui.notify(f"Run not started: {exc.message}", type="negative", multi_line=True)
                    return
                runtime.run_started(started.task_id)
                ui.notify(
                    f"Run {started.task_id} of {agent.name} started: its rounds will appear in the Inbox",
                    type="positive",
                )

            ui.button("Start run", icon="play_arrow", on_click=access.guarded(Role.ANSWERER, start)).mark(
                f"start-{agent.name}"
            ).set_visibility(access.may(Role.ANSWERER))
