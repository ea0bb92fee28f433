"""The run page's duration view: a Gantt of the run's rounds and the waits between them (ECharts, ``ui.echart``).

One row per round and one for the time after the last round; on each, the bars of
``app.services.run_durations``: waiting on the platform (grey), the round open until answered (orange), answered
until the platform's next delivery (blue). It is drawn as stacked horizontal bars whose first, invisible bar is
the offset from the run's start, so ECharts needs no custom series (and no JavaScript in the options). A line of
text per row says the same in words.
"""

from __future__ import annotations

import time
from typing import Any

from nicegui import ui

from app.models import RunDetail
from app.services.run_durations import Bar, run_durations
from app.states import DurationKind
from app.ui.format import duration
from app.ui.looks import HEX

KINDS = {
    DurationKind.PLATFORM: ("waiting on the platform", HEX["grey-5"]),
    DurationKind.OPEN: ("round open until answered", HEX["orange-7"]),
    DurationKind.ANSWERED: ("answered until the next delivery", HEX["primary"]),
}
AFTER = "after the rounds"


def duration_view(detail: RunDetail) -> None:
    """The Gantt and its words for ``detail``; nothing when the run has no timeline yet."""
    if not detail.events:
        return
    found = run_durations(detail, now=time.time())
    rows = _rows(found.bars)
    with (
        ui.expansion(f"Durations · {duration(found.total)}", icon="view_timeline", value=True)
        .classes("w-full")
        .props("dense")
        .mark("run-durations")
    ):
        ui.echart(_options(rows)).classes("w-full").style(f"height: {80 + 34 * len(rows)}px").mark("run-gantt")
        for name, bars in rows.items():
            words = " · ".join(f"{KINDS[bar.kind][0]} {duration(bar.seconds)}" for bar in bars)
            ui.label(f"{name}: {words}").classes("text-xs text-grey-8").mark(f"durations-{name.replace(' ', '-')}")


def _rows(bars: list[Bar]) -> dict[str, list[Bar]]:
    rows: dict[str, list[Bar]] = {}
    for bar in bars:
        rows.setdefault(AFTER if bar.round is None else f"round {bar.round}", []).append(bar)
    return rows


def _options(rows: dict[str, list[Bar]]) -> dict[str, Any]:
    names = list(rows)
    offsets = [round(bars[0].start, 3) for bars in rows.values()]
    series: list[dict[str, Any]] = [
        {
            "name": "offset",
            "type": "bar",
            "stack": "run",
            "data": offsets,
            "itemStyle": {"color": "transparent"},
            "emphasis": {"disabled": True},
            "tooltip": {"show": False},
        }
    ]
    for kind, (label, colour) in KINDS.items():
        data = [round(sum(b.seconds for b in bars if b.kind == kind), 3) for bars in rows.values()]
        series.append({"name": label, "type": "bar", "stack": "run", "data": data, "itemStyle": {"color": colour}})
    return {
        "animation": False,
        "grid": {"left": 110, "right": 20, "top": 30, "bottom": 30},
        "legend": {"data": [label for label, _ in KINDS.values()], "top": 0},
        "tooltip": {"trigger": "item"},
        "xAxis": {"type": "value", "name": "s", "min": 0},
        "yAxis": {"type": "category", "data": names, "inverse": True},
        "series": series,
    }
