"""Overview: number cards and four charts (runs by status, rounds answered per minute, answer latency,
deliveries by verdict), live.

The charts are built once and updated in place. Changes pushed by the server are coalesced: the first one
schedules a recomputation ``THROTTLE_S`` later and the ones that arrive meanwhile ride along, so a burst of
changes costs about three queries a second, and the page is never more than about ``THROTTLE_S`` behind. Every
Overview tab shares those queries (``app.ui.shared_reads.overview_data``): tabs told of one change read once.
"""

from __future__ import annotations

from typing import Any

from nicegui import ui

from app.services import overview
from app.ui.components.chart import Chart
from app.ui.format import clock
from app.ui.live import Live
from app.ui.looks import hex_color
from app.ui.shared_reads import overview_data

THROTTLE_S = 0.3
HINT = "Start a run on the Agents page, or press Run demo"
PERSON, HANDLERS = "#2f5d8a", "#f57c00"
CARDS = {
    "runs_total": "runs",
    "runs_awaiting_person": "runs awaiting a person",
    "deliveries_last_hour": "deliveries in the last hour",
    "refused_last_hour": "refused in the last hour",
}


def page(live: Live) -> None:
    ui.page_title("Overview · Tooldesk")
    _OverviewView(live)


class _OverviewView:
    def __init__(self, live: Live) -> None:
        self.root = ui.column().classes("w-full gap-4")
        with self.root:
            with ui.row().classes("w-full items-center gap-3"):
                ui.label("Overview").classes("text-2xl font-bold")
                ui.space()
                self.as_of = ui.label("").classes("text-sm text-grey-7").mark("overview-as-of")
            with ui.grid().classes("w-full grid-cols-2 md:grid-cols-4 gap-4"):
                self.cards = {key: _card(key, caption) for key, caption in CARDS.items()}
            with ui.grid().classes("w-full grid-cols-1 lg:grid-cols-2 gap-4"):
                self.status = _chart("Runs by status", "overview-status", _bars("runs"))
                self.minutes = _chart("Rounds answered per minute, last hour", "overview-minutes", _per_minute())
                self.latency = _chart("Answer latency, last 24 hours (seconds)", "overview-latency", _latency())
                self.verdicts = _chart("Deliveries by verdict, last 24 hours", "overview-verdicts", _bars("deliveries"))
        self._pending = False  # a recomputation is scheduled or running
        self._dirty = False  # a change arrived since it started
        self._shown: dict[str, object] = {}  # per chart, the figures it shows now (``_changed``)
        live.listen(self.changed)
        ui.timer(0, self.refresh, once=True)

    def changed(self, _task_id: int = 0) -> None:
        """A change was pushed: recompute ``THROTTLE_S`` from the first one, once for all that follow."""
        self._dirty = True
        if not self._pending:
            self._pending = True
            with self.root:
                ui.timer(THROTTLE_S, self._flush, once=True)

    async def _flush(self) -> None:
        self._dirty = False
        try:
            await self.refresh()
        finally:
            self._pending = False
        if self._dirty:
            self.changed()

    async def refresh(self) -> None:
        """Recompute the overview and put it into the cards and charts (in place)."""
        data = await overview_data.get()  # one read for every Overview tab
        for key, label in self.cards.items():
            label.set_text(f"{getattr(data, key):,}")
        self.as_of.set_text(f"as of {clock(data.at)}")
        self._show_status(data)
        self._show_minutes(data)
        self._show_latency(data)
        self._show_verdicts(data)

    def _changed(self, chart: str, figures: object) -> bool:
        """Whether ``chart`` shows other figures than ``figures`` (hashable, equal for equal charts); remembers
        them. A chart whose figures did not change is not touched: setting its options wraps every value in
        NiceGUI's observables and sends the whole chart to the browser, for each Overview tab on each change."""
        if self._shown.get(chart) == figures:
            return False
        self._shown[chart] = figures
        return True

    def _show_status(self, data: overview.Overview) -> None:
        if not self._changed("status", tuple(data.runs_by_status.items())):
            return
        options = self.status.options
        options["xAxis"]["data"] = list(data.runs_by_status)
        options["series"][0]["data"] = [_bar(count, hex_color(status)) for status, count in data.runs_by_status.items()]
        options["title"] = _empty("No runs yet", show=not data.runs_by_status)
        self.status.update()

    def _show_minutes(self, data: overview.Overview) -> None:
        minutes = tuple((m.minute * 1000, m.person, m.handlers) for m in data.rounds_per_minute)
        if not self._changed("minutes", minutes):
            return
        options = self.minutes.options
        options["xAxis"]["min"] = minutes[0][0] - 30_000
        options["xAxis"]["max"] = minutes[-1][0] + 30_000
        options["series"][0]["data"] = [(at, person) for at, person, _ in minutes]  # tuples: no observable each
        options["series"][1]["data"] = [(at, handlers) for at, _, handlers in minutes]
        answered = any(person or handlers for _, person, handlers in minutes)
        options["title"] = _empty("No rounds answered in the last hour", show=not answered)
        self.minutes.update()

    def _show_latency(self, data: overview.Overview) -> None:
        if not self._changed(
            "latency", tuple((item.answerer, item.rounds, item.p50_s, item.p95_s) for item in data.latency)
        ):
            return
        options = self.latency.options
        options["xAxis"]["data"] = [f"{item.answerer}\n{item.rounds:,} round(s)" for item in data.latency]
        options["series"][0]["data"] = [_seconds(item.p50_s) for item in data.latency]
        options["series"][1]["data"] = [_seconds(item.p95_s) for item in data.latency]
        options["title"] = _empty("No rounds answered in the last 24 hours", show=not data.latency)
        self.latency.update()

    def _show_verdicts(self, data: overview.Overview) -> None:
        if not self._changed("verdicts", tuple(data.deliveries_by_verdict.items())):
            return
        options = self.verdicts.options
        options["xAxis"]["data"] = list(data.deliveries_by_verdict)
        options["series"][0]["data"] = [
            _bar(count, hex_color(verdict)) for verdict, count in data.deliveries_by_verdict.items()
        ]
        options["title"] = _empty(
            "No deliveries in the last 24 hours", show=not any(data.deliveries_by_verdict.values())
        )
        self.verdicts.update()


def _card(key: str, caption: str) -> ui.label:
    with ui.card().classes("items-start gap-0 p-4").props("flat bordered"):
        number = ui.label("…").classes("text-3xl font-bold text-primary").mark(f"overview-{key.replace('_', '-')}")
        ui.label(caption).classes("text-sm text-grey-7")
    return number


def _chart(title: str, marker: str, options: dict[str, Any]) -> Chart:
    with ui.card().classes("w-full gap-1 p-3").props("flat bordered"):
        ui.label(title).classes("text-base font-medium")
        return Chart(options).classes("w-full h-64").mark(marker)


def _seconds(value: float) -> float:
    """Two decimals under 10 s, one under 100 s, none above: enough for a bar's label."""
    return round(value, 2 if value < 10 else 1 if value < 100 else None)


def _bar(value: int, color: str) -> dict[str, Any]:
    """One bar of its own color, labelled with its value unless that is 0."""
    return {"value": value, "itemStyle": {"color": color}, "label": {"show": value > 0}}


def _empty(text: str, *, show: bool) -> dict[str, Any]:
    """An ECharts title in the middle of the plot: the empty state and the hint, shown only when empty."""
    return {
        "show": show,
        "text": text,
        "subtext": HINT,
        "left": "center",
        "top": "middle",
        "textStyle": {"fontSize": 14, "fontWeight": "normal", "color": "#616161"},
        "subtextStyle": {"fontSize": 12, "color": "#9e9e9e"},
    }


def _base() -> dict[str, Any]:
    return {
        "animation": False,
        "title": _empty("", show=False),
        "grid": {"left": 48, "right": 16, "top": 32, "bottom": 48},
        "tooltip": {"trigger": "axis", "axisPointer": {"type": "shadow"}},
        "yAxis": {"type": "value", "minInterval": 1},
    }


def _bars(name: str) -> dict[str, Any]:
    return _base() | {
        "xAxis": {"type": "category", "data": [], "axisLabel": {"interval": 0, "rotate": 30}},
        "series": [
            {"name": name, "type": "bar", "data": [], "barMaxWidth": 48, "label": {"show": True, "position": "top"}}
        ],
    }


def _per_minute() -> dict[str, Any]:
    return _base() | {
        "legend": {"data": ["person", "handlers"], "top": 0},
        "tooltip": {"trigger": "axis"},
        "xAxis": {"type": "time", "splitLine": {"show": False}},
        "series": [
            {"name": "person", "type": "bar", "stack": "rounds", "data": [], "itemStyle": {"color": PERSON}},
            {"name": "handlers", "type": "bar", "stack": "rounds", "data": [], "itemStyle": {"color": HANDLERS}},
        ],
    }


def _latency() -> dict[str, Any]:
    label = {"show": True, "position": "top", "formatter": "{c} s", "fontSize": 11}
    return _base() | {
        "legend": {"data": ["p50", "p95"], "top": 0},
        "xAxis": {"type": "category", "data": [], "axisLabel": {"interval": 0, "lineHeight": 16}},
        "series": [
            {
                "name": "p50",
                "type": "bar",
                "data": [],
                "barMaxWidth": 40,
                "label": label,
                "itemStyle": {"color": PERSON},
            },
            {
                "name": "p95",
                "type": "bar",
                "data": [],
                "barMaxWidth": 40,
                "label": label,
                "itemStyle": {"color": "#8fb3d9"},
            },
        ],
    }
