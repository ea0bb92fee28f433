"""One row of the benchmark table that ``make bench`` prints (``bench/run_all.py``), and how it is printed.

Every measuring module (``ingest``, ``roundtrip``, ``seed_runs``, ``ui_live``, ``cost_curve``) exposes
``measure(*, quick: bool) -> list[Row]`` and prints its own rows when run alone.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass


@dataclass(frozen=True)
class Row:
    """``measure``: what was measured, as the issue names it; ``goal``: the target, in words (``"≤ 15 ms"``);
    ``measured``: the figure with its unit; ``met``: True pass, False short, None not measured (``note`` says why);
    ``note``: how close and why, for a goal not met, or the conditions of the measurement."""

    measure: str
    goal: str
    measured: str
    met: bool | None
    note: str = ""

    @property
    def verdict(self) -> str:
        return {True: "pass", False: "short", None: "not measured"}[self.met]


def markdown(rows: Iterable[Row]) -> str:
    """A Markdown table: ``| measure | goal | measured | verdict | note |``."""
    lines = ["| measure | goal | measured | verdict | note |", "|---|---|---|---|---|"]
    for row in rows:
        cells = (row.measure, row.goal, row.measured, row.verdict, row.note)
        lines.append("| " + " | ".join(cell.replace("|", "\\|") for cell in cells) + " |")
    return "\n".join(lines)
