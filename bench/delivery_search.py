"""Deliveries search: what a text search of the bodies costs, with 100,000 or 1,000,000 stored deliveries.

    .venv/bin/python bench/delivery_search.py [--quick]

Seeds a fresh SQLite file through the console's schema (``app.db.make_engine``, then plain ``sqlite3``
``executemany``) with N deliveries of about 700 bytes each (quick: 100,000; else 1,000,000), then times
``app.services.deliveries.list_deliveries`` side by side, median of ``REPEATS`` each: the first page with no
search, a search for a text no body holds (the worst case: it reads the whole window of
``body_search.SEARCH_WINDOW`` deliveries and counts nothing), a text every body holds, and a text of one run
narrowed by its task_id. No index serves the search, so the webhook's writer pays nothing for it; the window is
what keeps it bounded, whatever N.
"""

from __future__ import annotations

import argparse
import json
import sqlite3
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from table import Row, markdown

from app.db import make_engine
from app.services import body_search
from app.services.deliveries import DeliveryFilter, list_deliveries

REPEATS = 7
GOAL_MS = 500.0
"""A search should answer well within a page's patience (the runs search's own limit is 2 s)."""


def measure(*, quick: bool) -> list[Row]:
    count = 100_000 if quick else 1_000_000
    with tempfile.TemporaryDirectory() as folder:
        url = f"sqlite:///{folder}/search.db"
        engine = make_engine(url)
        _seed(Path(folder) / "search.db", count)
        cases: list[tuple[str, DeliveryFilter]] = [
            ("first page, no search", DeliveryFilter()),
            ("search, no body matches (whole window read)", DeliveryFilter(q="no-body-holds-this")),
            ("search, every body matches", DeliveryFilter(q="get_weather")),
            ("search within one task_id", DeliveryFilter(q="Oslo", task_id=count // 8)),
        ]
        rows = []
        for name, where in cases:
            took = _median(lambda w=where: list_deliveries(engine=engine, where=w, admin=True))
            rows.append(
                Row(
                    measure=f"deliveries {name}, {count:,} stored",
                    goal=f"≤ {GOAL_MS:.0f} ms",
                    measured=f"{took * 1000:.1f} ms",
                    met=took * 1000 <= GOAL_MS,
                    note=f"window {body_search.SEARCH_WINDOW:,}; median of {REPEATS}",
                )
            )
        engine.dispose()
    return rows


def _seed(path: Path, count: int) -> None:
    now = time.time()
    headers = json.dumps({"content-type": "application/json", "webhook-id": "x"})

    def rows() -> object:
        for i in range(count):
            task_id = i // 4 + 1
            body = json.dumps(
                {
                    "agent_id": "5f0c6b2e-8a4d-4c1e-9a57-2b3f3c4d5e6f",
                    "task_id": task_id,
                    "status": "awaiting_tool_calls",
                    "sequence": i % 4 + 1,
                    "round": 1,
                    "tool_calls": [
                        {"id": "call_1", "name": "get_weather", "arguments": {"city": "Oslo" if i % 2 else "Porto"}},
                        {"id": "call_2", "name": "search_flights", "arguments": {"from": "OSL", "to": "LIS"}},
                    ],
                    "expires_at": "2026-11-29T17:10:00Z",
                    "environment": "playground",
                    "note": "n" * 300,
                }
            ).encode()
            yield (now - (count - i), f"m_{i}", headers, body, "applied", "", 200, task_id, i % 4 + 1, "running")

    with sqlite3.connect(path) as db:
        db.executemany(
            "INSERT INTO delivery (received_at, webhook_id, headers, body, verdict, message, answered_status, "
            "task_id, sequence, status, body_truncated, console_made) VALUES (?,?,?,?,?,?,?,?,?,?,0,0)",
            rows(),  # type: ignore[arg-type]
        )


def _median(call: Callable[[], object]) -> float:
    call()  # warm the page cache
    times = []
    for _ in range(REPEATS):
        started = time.perf_counter()
        call()
        times.append(time.perf_counter() - started)
    return statistics.median(times)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    print(markdown(measure(quick=parser.parse_args().quick)))
