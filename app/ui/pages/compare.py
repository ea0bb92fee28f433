"""Compare two runs: headers side by side, then one row per aligned tool call, differences highlighted; live.

The two task_ids live in the query string (``/compare?a=12&b=15``); ``/compare?a=12`` prefills A and asks for B.
A changed run re-renders the comparison only when it is one of the two.
"""

import asyncio
import json
from typing import Any
from urllib.parse import urlencode

from nicegui import ui

from app.errors import NotFound
from app.protocol import INT64_MAX
from app.runtime import get_runtime
from app.services import compare, runs
from app.services.compare import CallSide, Comparison, RunHeader, Step
from app.ui.format import duration, pretty_json, stamp
from app.ui.live import Live
from app.ui.looks import color

DIFF = "bg-amber-1"
RECENT = 50


def page(live: Live, a: str = "", b: str = "") -> None:
    ui.page_title("Compare runs · Tooldesk")
    _CompareView(live, a.strip(), b.strip())


class _CompareView:
    def __init__(self, live: Live, a: str, b: str) -> None:
        self.ids = {"a": a, "b": b}
        self.options: dict[str, str] = {}
        with ui.row().classes("w-full items-center gap-3"):
            ui.label("Compare runs").classes("text-2xl font-bold")
        with ui.row().classes("w-full items-center gap-3"):
            picker_a = self._picker("a")
            ui.button(icon="swap_horiz", on_click=self._swap).props("flat round").tooltip("swap A and B").mark(
                "compare-swap"
            )
            self.pickers = {"a": picker_a, "b": self._picker("b")}
        self.body = ui.column().classes("w-full gap-3").mark("compare-body")
        live.listen(self.refresh)
        ui.timer(0, self._first_load, once=True)

    def _picker(self, side: str) -> ui.select:
        value = self.ids[side]
        return (
            ui.select(
                {value: value} if value else {},
                value=value or None,
                label=f"Run {side.upper()} (task_id)",
                with_input=True,
                new_value_mode="add-unique",
                on_change=lambda e, s=side: self._set(s, e.value),
            )
            .props("outlined dense clearable")
            .classes("w-[30rem]")
            .mark(f"compare-{side}")
        )

    async def _first_load(self) -> None:
        engine = get_runtime().engine
        recent, _ = await asyncio.to_thread(
            lambda: runs.search_runs(engine=engine, where=runs.RunFilter(per_page=RECENT))
        )
        self.options = {
            str(run.task_id): f"{run.task_id} · {run.agent_name or run.agent_id} · {run.status} · "
            f"{stamp(run.created_at)}"
            for run in recent
        }
        self._offer_chosen()
        await self.refresh()

    def _offer_chosen(self) -> None:
        """Offer the recent runs plus whatever task_ids are chosen (typed ones or from the URL)."""
        chosen = {text: text for text in self.ids.values() if text and text not in self.options}
        for side, picker in self.pickers.items():
            picker.set_options({**self.options, **chosen}, value=self.ids[side] or None)

    async def _set(self, side: str, value: Any) -> None:
        text = str(value or "").strip()
        if text == self.ids[side]:
            return
        self.ids[side] = text
        await self.refresh()

    async def _swap(self) -> None:
        self.ids = {"a": self.ids["b"], "b": self.ids["a"]}
        self._offer_chosen()
        await self.refresh()

    async def refresh(self, changed: int = 0) -> None:
        """Render the comparison of the chosen runs (skipped when ``changed`` is neither of them)."""
        numbers = {side: _task_id(text) for side, text in self.ids.items()}
        if changed and changed not in numbers.values():
            return
        ui.navigate.history.replace("/compare" + (f"?{query}" if (query := _query(self.ids)) else ""))
        problem = _problem(self.ids, numbers)
        comparison: Comparison | None = None
        if problem is None:
            engine, a, b = get_runtime().engine, numbers["a"], numbers["b"]
            assert a is not None and b is not None
            try:
                comparison = await asyncio.to_thread(lambda: compare.compare_runs(engine=engine, a=a, b=b))
            except NotFound as exc:
                problem = exc.message[:1].upper() + exc.message[1:] + "."
        if self.body.is_deleted:  # the person went to another page while this read
            return
        self.body.clear()
        with self.body:
            if comparison is None:
                ui.label(problem or "").classes("text-lg text-grey-8").mark("compare-message")
            else:
                _render(comparison)


def _task_id(text: str) -> int | None:
    """A task_id typed or taken from the URL, or ``None`` when it is not a positive 64-bit integer."""
    if not (text.isascii() and text.isdigit()):
        return None
    value = int(text)
    return value if 0 < value <= INT64_MAX else None


def _query(ids: dict[str, str]) -> str:
    return urlencode({side: text for side, text in ids.items() if text})


def _problem(ids: dict[str, str], numbers: dict[str, int | None]) -> str | None:
    """What stops a comparison, said to the person; ``None`` when both task_ids are usable."""
    for side in ("a", "b"):
        if ids[side] and numbers[side] is None:
            return f"Run {side.upper()}: '{ids[side]}' is not a task_id (a positive whole number)."
    if not ids["a"] and not ids["b"]:
        return "Choose two runs above (or type their task_ids) to compare their tool calls side by side."
    if not ids["b"]:
        return f"Choose run B to compare with run {ids['a']}."
    if not ids["a"]:
        return f"Choose run A to compare with run {ids['b']}."
    return None


def _render(comparison: Comparison) -> None:
    with ui.row().classes("w-full items-center gap-2"):
        _flag(comparison.same_agent, "same agent", "different agents", "flag-agent")
        inputs = ", ".join(comparison.differing_inputs)
        _flag(comparison.same_inputs, "same inputs", f"inputs differ ({inputs})", "flag-inputs")
        _flag(not comparison.result_differs, "same result", "result differs", "flag-result")
    ui.label(comparison.summary).classes(
        "text-base font-medium " + ("text-amber-10" if comparison.differing_steps else "text-positive")
    ).mark("compare-summary")
    with ui.grid(columns=2).classes("w-full gap-3"):
        _header(comparison.a, "A", comparison)
        _header(comparison.b, "B", comparison)
    current_round = None
    for index, step in enumerate(comparison.steps):
        if step.round != current_round:
            current_round = step.round
            ui.label(f"Round {step.round}").classes("text-lg font-bold mt-2")
        with ui.grid(columns=2).classes("w-full gap-3").mark(f"compare-step-{index}"):
            _cell(step, step.a, "A", index)
            _cell(step, step.b, "B", index)
    if not comparison.steps:
        ui.label("Neither run has a tool round yet.").classes("text-grey-6 italic")


def _flag(same: bool, yes: str, no: str, marker: str) -> None:
    ui.chip(
        yes if same else no, icon="check" if same else "compare_arrows", color="grey-3" if same else "amber-2"
    ).mark(marker)


def _header(run: RunHeader, side: str, comparison: Comparison) -> None:
    with ui.card().classes("w-full gap-1").props("flat bordered").mark(f"compare-header-{side.lower()}"):
        with ui.row().classes("items-center gap-2"):
            ui.label(side).classes("text-xl font-bold text-primary")
            ui.link(f"Run {run.task_id}", f"/runs/{run.task_id}").classes("text-lg font-bold")
            ui.badge(run.status, color=color(run.status))
        ui.label(f"{run.agent_name or run.agent_id} · {run.environment or ''}").classes("text-sm text-grey-7")
        if run.string_inputs:
            with ui.row().classes("gap-1"):
                for key, value in run.string_inputs.items():
                    differs = key in comparison.differing_inputs
                    ui.label(f"{key} = {value}").classes(
                        "text-sm px-1 rounded " + (f"{DIFF} font-bold" if differs else "bg-grey-2")
                    )
        ui.label(f"took {duration(run.duration) or '–'} · {run.rounds} round(s)").classes("text-xs text-grey-7")
        outcome = DIFF if comparison.result_differs else ""
        if run.error:
            ui.label(f"Error {run.error.get('code', '')}: {run.error.get('message', '')}").classes(
                f"text-sm text-negative whitespace-pre-wrap p-1 rounded {outcome}"
            )
        elif run.result is not None:
            text = run.result if isinstance(run.result, str) else pretty_json(run.result)
            ui.label(text).classes(f"text-sm whitespace-pre-wrap break-words p-1 rounded {outcome}").mark(
                f"compare-run-result-{side.lower()}"
            )


def _cell(step: Step, call: CallSide | None, side: str, index: int) -> None:
    marker = f"{index}-{side.lower()}"
    if call is None:
        with (
            ui.column()
            .classes("w-full items-center justify-center rounded border border-dashed border-gray-400 p-3")
            .mark(f"compare-cell-{marker}")
        ):
            ui.label(f"{step.tool_name} not called in run {side}").classes("text-grey-6 italic text-sm")
        return
    muted = "" if step.differs else " opacity-60"
    frame = "border-amber-400" if step.differs else "border-gray-300"
    with ui.column().classes(f"w-full gap-1 rounded border {frame} p-2{muted}").mark(f"compare-cell-{marker}"):
        with ui.row().classes("items-center gap-2"):
            ui.label(step.tool_name).classes("font-mono text-sm font-bold")
            ui.label(call.tool_call_id).classes("font-mono text-xs text-grey-6")
            if step.only_in:
                ui.badge(f"only in {side}", color="amber-8")
        args_box = "w-full gap-0 rounded p-1 " + (DIFF if step.arguments_differ else "bg-grey-1")
        with ui.column().classes(args_box).mark(f"compare-args-{marker}"):
            if call.arguments_problem is not None:
                ui.label(f"{call.arguments_text} ({call.arguments_problem})").classes(
                    "font-mono text-xs whitespace-pre-wrap break-all"
                    + (" text-amber-10" if step.arguments_differ else "")
                )
            elif not call.arguments:
                ui.label("(no arguments)").classes("font-mono text-xs text-grey-6")
            for key, value in call.arguments.items():
                differs = key in step.differing_keys
                ui.label(f"{key}: {json.dumps(value, ensure_ascii=False)}").classes(
                    "font-mono text-xs whitespace-pre-wrap break-all" + (" font-bold text-amber-10" if differs else "")
                )
            if step.arguments_differ:
                ui.label("differs: " + ", ".join(step.differing_keys)).classes("text-xs text-amber-10 italic")
        result_box = "w-full gap-0 rounded p-1 " + (DIFF if step.result_differs else "")
        with ui.column().classes(result_box).mark(f"compare-result-{marker}"):
            if call.output is None:
                ui.label("no result yet").classes("text-sm text-grey-6 italic")
            else:
                prefix = "error: " if call.is_error else "→ "
                ui.label(prefix + call.output).classes(
                    "font-mono text-sm whitespace-pre-wrap break-words" + (" text-negative" if call.is_error else "")
                )
        details = [f"waited {duration(call.waited)}" if call.waited is not None else "not submitted"]
        if call.answered_by:
            details.append(f"answered by {call.answered_by}")
        ui.label(" · ".join(details)).classes("text-xs text-grey-7")
