"""The run page's duration view: a Gantt of the run's rounds and the waits between them (ECharts, ``ui.echart``).

One row per round and one for the time after the last round; on each, the bars of
``app.services.run_durations``: waiting on the platform (grey), the round open until answered (orange), answered
until the platform's next delivery (blue). It is drawn as stacked horizontal bars whose first, invisible bar is
the offset from the run's start, so ECharts needs no custom series (and no JavaScript in the options). A line of
text per row says the same in words, naming how each round ended (answered, expired, closed when the run moved on,
or cancelled with the run); a run with no rounds has one row, "the run".
"""

from __future__ import annotations

import time
from typing import Any

from nicegui import ui

from app.models import RunDetail
from app.services.run_durations import Bar, run_durations
from app.states import DurationKind, RoundState, RunStatusName
from app.ui.components.chart import Chart
from app.ui.format import duration
from app.ui.looks import HEX

KINDS = {
    DurationKind.PLATFORM: ("waiting on the platform", HEX["grey-5"]),
    DurationKind.OPEN: ("round open", HEX["orange-7"]),
    DurationKind.ANSWERED: ("answered until the next delivery", HEX["primary"]),
}
AFTER = "after the rounds"
WHOLE = "the run"
"""The one row of a run without rounds."""


def duration_view(detail: RunDetail) -> None:
    """The Gantt and its words for ``detail``; nothing when the run has no timeline yet."""
    if not detail.events:
        return
    found = run_durations(detail, now=time.time())
    rows = _rows(found.bars, has_rounds=bool(detail.rounds))
    ends = _round_ends(detail)
    with (
        ui.expansion(f"Durations · {duration(found.total)}", icon="view_timeline", value=True)
        .classes("w-full")
        .props("dense")
        .mark("run-durations")
    ):
        Chart(_options(rows)).classes("w-full").style(f"height: {80 + 34 * len(rows)}px").mark("run-gantt")
        for name, bars in rows.items():
            words = " · ".join(
                f"{ends.get(bar.round, '') if bar.kind == DurationKind.OPEN else KINDS[bar.kind][0]} "
                f"{duration(bar.seconds)}"
                for bar in bars
            )
            ui.label(f"{name}: {words}").classes("text-xs text-grey-8").mark(f"durations-{name.replace(' ', '-')}")


def _rows(bars: list[Bar], *, has_rounds: bool) -> dict[str, list[Bar]]:
    rows: dict[str, list[Bar]] = {}
    for bar in bars:
        name = f"round {bar.round}" if bar.round is not None else AFTER if has_rounds else WHOLE
        rows.setdefault(name, []).append(bar)
    return rows


def _round_ends(detail: RunDetail) -> dict[int | None, str]:
    """Each round's words for its open bar, by how it ended: a round closed on a cancelled run's last round was
    cancelled with the run, any other closed round closed when the run moved on (``RoundState``)."""
    last = max((r.round for r in detail.rounds), default=None)
    words: dict[int | None, str] = {}
    for round_ in detail.rounds:
        if round_.state == RoundState.EXPIRED:
            words[round_.round] = "round open until it expired"
        elif round_.state != RoundState.CLOSED:
            words[round_.round] = "round open until answered"
        elif detail.status == RunStatusName.CANCELLED and round_.round == last:
            words[round_.round] = "round open until the run was cancelled"
        else:
            words[round_.round] = "round open until closed when the run moved on"
    return words


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
