"""Seed a database with many runs and time what the runs list needs to show its first page.

    .venv/bin/python bench/seed_runs.py [--runs 100000] [--keep]

Writes N runs (each with one round of two tool calls, their results and four timeline events) into a fresh
SQLite file through the console's own schema, then times, with the console's own service:
the first page (newest 50), a status filter, an agent filter, a free-text search and a deep page; and, with the
console started on that file, ``GET /api/runs`` over HTTP. Prints a Markdown table.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from app.answerers import Answerer  # noqa: E402
from app.db import make_engine  # noqa: E402
from app.models import Event, Round, Run, ToolCallRow, ToolResultRow  # noqa: E402
from app.services.runs import RunFilter, search_runs  # noqa: E402

AGENTS = [f"3f1c2a7e-5b8d-4e0a-9c61-0c1e2d3a4b0{i}" for i in range(1, 5)]
STATUSES = ["completed"] * 7 + ["failed", "cancelled", "expired", "awaiting_tool_calls", "running"]
SEED = Answerer.person("seed").columns()
CITIES = ["Lisbon", "Porto", "Oslo", "Bergen", "Nairobi", "Kyoto", "Lima", "Quito", "Reykjavik", "Hanoi"]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=100_000)
    parser.add_argument("--keep", action="store_true", help="keep the database file and print its path")
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="tooldesk-seed-"))
    url = f"sqlite:///{folder}/seed.db"
    started = time.perf_counter()
    seed(url, args.runs)
    seeded = time.perf_counter() - started
    rows = [("seed", f"{args.runs:,} runs", seeded * 1000)]
    rows += time_service(url)
    rows += time_http(url, folder)
    print("\n| what | detail | ms |\n|---|---|---:|")
    for what, detail, ms in rows:
        print(f"| {what} | {detail} | {ms:,.1f} |")
    print(f"\nMachine: nproc {os.cpu_count()}, Python {sys.version.split()[0]}; database {size(folder)} MiB.")
    if args.keep:
        print(f"kept: {folder}/seed.db")
    else:
        for path in folder.iterdir():
            path.unlink()
        folder.rmdir()
    return 0


def seed(url: str, count: int) -> None:
    """Insert ``count`` runs with their rounds, calls, results and events in batches of 5,000."""
    engine = make_engine(url)
    rng = random.Random(7)
    now = time.time()
    tables = {model: model.__table__ for model in (Run, Round, ToolCallRow, ToolResultRow, Event)}  # type: ignore[attr-defined]
    with engine.begin() as conn:
        for start in range(0, count, 5000):
            runs, rounds, calls, results, events = [], [], [], [], []
            for task_id in range(start + 1, min(count, start + 5000) + 1):
                created = now - (count - task_id) * 30.0
                status = rng.choice(STATUSES)
                city = rng.choice(CITIES)
                runs.append(
                    {
                        "task_id": task_id,
                        "agent_id": rng.choice(AGENTS),
                        "status": status,
                        "sequence": 5,
                        "round": 1,
                        "environment": rng.choice(["playground", "staging", "production"]),
                        "string_inputs": {"1": city},
                        "result": f"Trip to {city}" if status == "completed" else None,
                        "error": None,
                        "started_by": "seed",
                        "created_at": created,
                        "updated_at": created + 4,
                    }
                )
                rounds.append(
                    {
                        "id": task_id,
                        "task_id": task_id,
                        "agent_id": runs[-1]["agent_id"],
                        "round": 1,
                        "state": "submitted",
                        "expires_at": None,
                        "opened_at": created + 1,
                        "submitted_at": created + 2,
                        "acknowledged_at": created + 2,
                        **SEED,
                        "message": "",
                    }
                )
                for position, (name, arguments, output) in enumerate(
                    [
                        ("get_weather", {"city": city}, f"Sunny in {city}"),
                        (
                            "search_flights",
                            {"from": "LIS", "to": city, "date": "2026-12-24"},
                            json.dumps({"flight": "TP 1"}),
                        ),
                    ]
                ):
                    call_id = f"call_{task_id}_{position}"
                    calls.append(
                        {
                            "round_id": task_id,
                            "tool_call_id": call_id,
                            "name": name,
                            "arguments": arguments,
                            "position": position,
                        }
                    )
                    results.append(
                        {
                            "round_id": task_id,
                            "tool_call_id": call_id,
                            "output": output,
                            "is_error": False,
                            **SEED,
                            "created_at": created + 2,
                        }
                    )
                for offset, kind in enumerate(["started", "state", "round_opened", "round_submitted"]):
                    events.append(
                        {
                            "task_id": task_id,
                            "at": created + offset,
                            "kind": kind,
                            "summary": kind,
                            "delivery_id": None,
                            "round_id": None,
                        }
                    )
            for model, batch in (
                (Run, runs),
                (Round, rounds),
                (ToolCallRow, calls),
                (ToolResultRow, results),
                (Event, events),
            ):
                conn.execute(tables[model].insert(), batch)
    engine.dispose()


def time_service(url: str) -> list[tuple[str, str, float]]:
    engine = make_engine(url)
    cases = [
        ("first page", RunFilter()),
        ("status filter", RunFilter(status="failed")),
        ("agent filter", RunFilter(agent_id=AGENTS[1])),
        ("search", RunFilter(q="nairobi")),
        ("page 1,000", RunFilter(page=1000)),
        ("sort by status", RunFilter(sort="status")),
    ]
    timed = []
    for name, where in cases:
        samples = []
        for _ in range(5):
            started = time.perf_counter()
            search_runs(engine=engine, where=where)
            samples.append((time.perf_counter() - started) * 1000)
        timed.append(("service", f"{name} (median of 5)", statistics.median(samples)))
    engine.dispose()
    return timed


def time_http(url: str, folder: Path) -> list[tuple[str, str, float]]:
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TOOLDESK_", "PYTEST_"))}
    # sign-in off (loopback only): the runs list and page are timed, not the session check
    env |= {"TOOLDESK_DATABASE_URL": url, "TOOLDESK_PORT": str(port), "TOOLDESK_AUTH": "off"}
    with (folder / "console.log").open("wb") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "app"], cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT
        )
    try:
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"{base}/api/runs?per_page=1", timeout=5).status_code == 200:
                    break
            except httpx.TransportError:
                time.sleep(0.2)
        samples = []
        for _ in range(5):
            started = time.perf_counter()
            response = httpx.get(f"{base}/api/runs", timeout=30)
            samples.append((time.perf_counter() - started) * 1000)
            response.raise_for_status()
        timed = [("HTTP", "GET /api/runs, first page (median of 5)", statistics.median(samples))]
        return timed + time_page(base)
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()


def time_page(base: str) -> list[tuple[str, str, float]]:
    """In Chromium: from opening /runs to its first row on screen (Debian's Chromium; skipped without it)."""
    if not Path("/usr/bin/chromium").exists():
        return []
    from playwright.sync_api import sync_playwright

    samples = []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path="/usr/bin/chromium",
            args=["--no-sandbox", "--disable-background-networking", "--disable-component-update", "--disable-sync"],
        )
        for _ in range(3):
            page = browser.new_page()
            started = time.perf_counter()
            page.goto(f"{base}/runs")
            page.locator("tbody tr").first.wait_for(timeout=30_000)
            samples.append((time.perf_counter() - started) * 1000)
            page.close()
        browser.close()
    return [("browser", "open /runs until the first row shows (median of 3)", statistics.median(samples))]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def size(folder: Path) -> int:
    return sum(path.stat().st_size for path in folder.iterdir()) // (1024 * 1024)


if __name__ == "__main__":
    sys.exit(main())
