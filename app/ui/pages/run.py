"""One run: status, inputs, result or error, its rounds and its timeline, live."""

import asyncio
import time

from nicegui import ui

from app.errors import NotFound, PlatformError, TooldeskError
from app.models import RoundPublic, RunDetail
from app.protocol import INT64_MAX, StartRun, deadline_seconds, is_terminal
from app.runtime import get_runtime
from app.services import agents, deliveries, handler_store, runs
from app.services import replay as run_replay
from app.states import Role, RoundState, RunStatusName
from app.ui import access
from app.ui.components.arguments import arguments_view
from app.ui.components.cassette_button import record_button
from app.ui.components.round_form_fields import MAX_CARD_CALLS
from app.ui.components.run_gantt import duration_view
from app.ui.format import clock, duration, pretty_json
from app.ui.live import Live
from app.ui.looks import color, look


def page(task_id: str, live: Live) -> None:
    ui.page_title(f"Run {task_id} · Tooldesk")
    host = ui.element("div")  # dialogs live here, outside what a live refresh clears
    body = ui.column().classes("w-full gap-4")
    number = _task_id(task_id)

    async def refresh(changed: int = 0) -> None:
        if changed and changed != number:
            return
        engine = get_runtime().engine
        try:
            if number is None:
                raise NotFound(task_id)
            detail = await asyncio.to_thread(lambda: runs.get_run(engine=engine, task_id=number))
        except NotFound:
            detail = None
        if body.is_deleted:  # the person went to another page while this refresh read
            return
        if detail is None:
            body.clear()
            with body:
                ui.label(f"No run with task_id {task_id}.").classes("text-lg")
                ui.link("All runs", "/runs")
            return
        body.clear()
        with body:
            _render(detail, host)

    live.listen(refresh)
    ui.timer(0, refresh, once=True)


def _task_id(text: str) -> int | None:
    """A task_id from the URL, or ``None`` when it is not a positive 64-bit integer."""
    if not (text.isascii() and text.isdigit()):
        return None
    value = int(text)
    return value if 0 < value <= INT64_MAX else None


def _render(detail: RunDetail, host: ui.element) -> None:
    with ui.row().classes("items-center gap-3"):
        ui.label(f"Run {detail.task_id}").classes("text-2xl font-bold")
        ui.badge(detail.status, color=color(detail.status)).classes("text-base").mark("run-status")
        ui.label(
            f"{detail.agent_name or detail.agent_id} · {detail.environment or ''} · sequence {detail.sequence}"
        ).classes("text-grey-7 text-sm")
        if detail.ended_at is not None:
            ui.label(f"took {duration(runs.run_duration(detail))}").classes("text-grey-7 text-sm").mark("run-took")
        ui.space()
        if not is_terminal(detail.status) and detail.status != RunStatusName.LOST:
            ui.button(
                "Cancel run", icon="cancel", on_click=access.guarded(Role.ANSWERER, lambda: _cancel(detail))
            ).props("outline color=negative").mark("cancel-run").set_visibility(access.may(Role.ANSWERER))
        ui.button("Run again", icon="replay", on_click=access.guarded(Role.ANSWERER, lambda: _run_again(detail))).props(
            "outline"
        ).tooltip("start the same agent with the same inputs and environment").mark("run-again").set_visibility(
            access.may(Role.ANSWERER)
        )
        answered = max((r.round for r in detail.rounds if r.results), default=0)
        if answered:
            ui.button(
                "Replay to round…",
                icon="fast_forward",
                on_click=lambda: _replay_dialog(detail, answered, host),
            ).props("outline").tooltip("the same inputs; rounds 1..k answered as here, the next one left to you").mark(
                "replay-run"
            ).set_visibility(access.may(Role.ADMIN))
            record_button(detail.task_id)
        ui.button(
            "Compare…", icon="compare_arrows", on_click=lambda: ui.navigate.to(f"/compare?a={detail.task_id}")
        ).props("flat").mark("compare-run")
    if detail.replay_of is not None:
        with ui.row().classes("items-center gap-1 text-sm"):
            ui.icon("fast_forward", color="primary")
            ui.label(f"replay of run {detail.replay_of}, rounds 1..{detail.replay_until} answered as there:")
            ui.link(f"run {detail.replay_of}", f"/runs/{detail.replay_of}").mark("replay-of")
    if detail.string_inputs:
        ui.label("Inputs: " + ", ".join(f"{k} = {v}" for k, v in detail.string_inputs.items())).classes("text-sm")
    if detail.status == RunStatusName.COMPLETED:
        with ui.card().classes("w-full bg-green-1").props("flat bordered"):
            ui.label("Result").classes("font-bold")
            text = detail.result if isinstance(detail.result, str) else pretty_json(detail.result)
            ui.label(text).classes("whitespace-pre-wrap").mark("run-result")
    if detail.error:
        with ui.card().classes("w-full bg-red-1").props("flat bordered"):
            ui.label(f"Error: {detail.error.get('code', '')}").classes("font-bold")
            ui.label(str(detail.error.get("message", ""))).mark("run-error")
    duration_view(detail)
    with ui.row().classes("w-full items-start gap-6 no-wrap"):
        with ui.column().classes("w-1/2"):
            ui.label("Rounds").classes("text-lg font-bold")
            if not detail.rounds:
                ui.label("No tool round yet.").classes("text-grey-6 italic")
            for round_ in detail.rounds:
                _round_card(round_)
        with ui.column().classes("w-1/2 gap-0").mark("timeline"):
            ui.label("Timeline").classes("text-lg font-bold mb-2")
            start = detail.events[0].at if detail.events else 0.0
            for event in detail.events:
                with ui.row().classes("w-full items-start gap-2 no-wrap py-1 border-b border-grey-3"):
                    ui.icon(look(event.kind).icon, color=color(event.kind)).classes("text-lg mt-0.5")
                    with ui.column().classes("gap-0 grow"):
                        ui.label(event.summary).classes("text-sm")
                        if event.console_made:
                            ui.badge("made in the console", color="orange-9").props("outline").mark(
                                f"console-made-{event.id}"
                            )
                        ui.label(
                            f"{clock(event.at)} · +{duration(event.at - start)} · {event.kind.replace('_', ' ')}"
                        ).classes("text-xs text-grey-6")
                    if event.delivery_id is not None:
                        delivery_id = event.delivery_id
                        show = access.guarded(Role.VIEWER, lambda d=delivery_id: _show_delivery(d, host))
                        ui.button("raw", on_click=show).props("flat dense no-caps size=sm").mark(f"raw-{delivery_id}")


async def _cancel(detail: RunDetail) -> None:
    runtime = get_runtime()
    try:
        await runs.cancel_run(
            engine=runtime.engine, client=runtime.client, agent_id=detail.agent_id, task_id=detail.task_id
        )
    except TooldeskError as exc:
        if isinstance(exc, PlatformError):
            runtime.runs_reconciled([detail.task_id])  # the refusal made the console ask the platform
        said = f"platform answered {exc.status} {exc.code}: " if isinstance(exc, PlatformError) else ""
        ui.notify(f"Not cancelled: {said}{exc.message}", type="negative", multi_line=True)
        return
    ui.notify(f"Cancel sent for run {detail.task_id}: the platform's webhook will confirm it", type="info")


def _replay_dialog(detail: RunDetail, answered: int, host: ui.element) -> None:
    with host, ui.dialog() as dialog, ui.card().classes("w-96"):
        dialog.on("hide", dialog.delete)  # one dialog per opening, gone once closed
        ui.label(f"Replay run {detail.task_id}").classes("text-lg font-bold")
        ui.label(
            "Starts the same agent with the same inputs. Rounds 1 to k are answered with the answers given "
            "here; round k+1 waits in the Inbox."
        ).classes("text-sm text-grey-8")
        until = (
            ui.number("Answer rounds 1 to", value=answered, min=0, max=answered, step=1, precision=0)
            .props("outlined dense")
            .mark("replay-until")
        )

        async def start() -> None:
            runtime = get_runtime()
            try:
                started = await run_replay.replay_run(
                    engine=runtime.engine,
                    client=runtime.client,
                    task_id=detail.task_id,
                    until_round=int(until.value or 0),
                )
            except TooldeskError as exc:
                ui.notify(f"Not replayed: {exc.message}", type="negative", multi_line=True)
                return
            dialog.close()
            runtime.run_replayed(original=detail.task_id, started=started.task_id)
            ui.navigate.to(f"/runs/{started.task_id}")

        with ui.row():
            ui.button("Replay", icon="fast_forward", on_click=access.guarded(Role.ADMIN, start)).mark("replay-start")
            ui.button("Cancel", on_click=dialog.close).props("flat")
    dialog.open()


async def _run_again(detail: RunDetail) -> None:
    runtime = get_runtime()
    body = StartRun(string_inputs=detail.string_inputs or {}, environment=detail.environment or "playground")
    try:
        started = await agents.start_run(
            engine=runtime.engine,
            client=runtime.client,
            agent_id=detail.agent_id,
            body=body,
            started_by=f"person (console), again from run {detail.task_id}",
        )
    except TooldeskError as exc:
        ui.notify(f"Run not started: {exc.message}", type="negative", multi_line=True)
        return
    runtime.run_started(started.task_id)
    ui.navigate.to(f"/runs/{started.task_id}")


def _countdown(expires_at: str) -> None:
    """A live "expires in m:ss" for a pending round (this tab's own clock; nothing is fetched)."""
    deadline = deadline_seconds(expires_at)
    if deadline is None:
        return
    label = ui.label("").classes("text-sm text-orange-9").mark("expires-in")

    def tick() -> None:
        left = deadline - time.time()
        label.set_text(f"expires in {int(left // 60)}:{int(left % 60):02d}" if left > 0 else "expired")

    tick()
    ui.timer(1.0, tick)


async def _save_as_rule(round_id: int, tool_call_id: str) -> None:
    engine = get_runtime().engine
    try:
        saved = await asyncio.to_thread(
            lambda: handler_store.save_result_as_rule(engine=engine, round_id=round_id, tool_call_id=tool_call_id)
        )
    except TooldeskError as exc:
        ui.notify(exc.message, type="negative", multi_line=True)
        return
    ui.notify(
        f"Saved as a rule of {saved.tool_name} (version {saved.version}, mode {saved.mode}): "
        "edit it on the Handlers page",
        type="positive",
        multi_line=True,
    )


RAW_SHOWN_CHARS = 20_000
"""Characters of a stored body the run page's *raw* dialog draws: a body can be up to 1 MB, and highlighting it
whole held the event loop (and every webhook) for seconds."""


async def _show_delivery(delivery_id: int, host: ui.element) -> None:
    engine, admin = get_runtime().engine, access.may(Role.ADMIN)
    delivery = await asyncio.to_thread(
        lambda: deliveries.get_delivery(engine=engine, delivery_id=delivery_id, admin=admin)
    )
    with host, ui.dialog() as dialog, ui.card().classes("w-[48rem] max-w-full"):
        dialog.on("hide", dialog.delete)  # one dialog per opening, gone once closed
        ui.label(f"Delivery {delivery.id} · {delivery.verdict} · answered {delivery.answered_status}").classes(
            "font-bold"
        )
        ui.label(f"webhook-id {delivery.webhook_id} · received {clock(delivery.received_at)}").classes("text-sm")
        if delivery.message:
            ui.label(delivery.message).classes("text-sm text-grey-8")
        ui.code(pretty_json(delivery.headers), language="json").classes("w-full text-xs")
        body = delivery.body if delivery.body is not None else f"(not UTF-8) base64: {delivery.body_base64}"
        ui.code(body[:RAW_SHOWN_CHARS], language="json").classes("w-full text-xs").mark("raw-body")
        if len(body) > RAW_SHOWN_CHARS:
            ui.label(
                f"The first {RAW_SHOWN_CHARS:,} of {len(body):,} characters; the Deliveries page and "
                f"GET /api/deliveries/{delivery.id} have them all."
            ).classes("text-xs text-grey-7").mark("raw-body-cut")
        ui.button("Close", on_click=dialog.close).props("flat")
    dialog.open()


def _round_card(round_: RoundPublic) -> None:
    results = {result.tool_call_id: result for result in round_.results}
    with ui.card().classes("w-full").props("flat bordered").mark(f"run-round-{round_.round}"):
        with ui.row().classes("items-center gap-2"):
            ui.label(f"Round {round_.round}").classes("font-bold")
            ui.badge(round_.state, color=color(round_.state)).props("outline")
            if round_.answered_by:
                ui.label(f"answered by {round_.answered_by}").classes("text-sm")
            if round_.submitted_at:
                ui.label(f"waited {duration(round_.submitted_at - round_.opened_at)}").classes("text-sm text-grey-7")
            if round_.submitted_at and round_.acknowledged_at:
                took = round_.acknowledged_at - round_.submitted_at
                ui.label(f"· platform took it in {took * 1000:.0f} ms").classes("text-sm text-grey-7").tooltip(
                    "from the answer to the platform's acknowledgement (outbox retries included)"
                )
        if round_.state == RoundState.PENDING and round_.expires_at:
            _countdown(round_.expires_at)
        if round_.message:
            ui.label(round_.message).classes("text-sm text-negative")
        hidden = len(round_.tool_calls) - MAX_CARD_CALLS
        if hidden > 0:
            ui.label(
                f"The first {MAX_CARD_CALLS} of {len(round_.tool_calls):,} tool calls; GET /api/rounds/{round_.id} "
                "has them all"
            ).classes("text-sm text-grey-7").mark(f"run-round-{round_.round}-cut")
        for call in round_.tool_calls[:MAX_CARD_CALLS]:
            with ui.column().classes("w-full gap-0"):
                ui.label(f"{call.tool_call_id} · {call.name}").classes("font-mono text-sm font-bold")
                arguments_view(call, text_size="text-xs")
                result = results.get(call.tool_call_id)
                if result is not None:
                    ui.button(
                        "Save as rule",
                        icon="rule",
                        on_click=access.guarded(
                            Role.ADMIN, lambda r=round_.id, c=call.tool_call_id: _save_as_rule(r, c)
                        ),
                    ).props("flat dense no-caps size=sm").mark(f"save-rule-{call.tool_call_id}")
                    prefix = "error: " if result.is_error else "→ "
                    ui.label(prefix + result.output).classes(
                        "font-mono text-sm whitespace-pre-wrap" + (" text-negative" if result.is_error else "")
                    )
