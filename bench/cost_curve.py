"""Cost curve: does the console slow down, or grow, as its database fills? 1,000 against 1,000,000 stored deliveries.

    .venv/bin/python bench/cost_curve.py [--quick] [--keep]

What it does:

1. seeds two fresh SQLite files through the console's schema (``app.db.make_engine`` makes the tables and
   indexes, then plain ``sqlite3`` ``executemany`` in big transactions): 1,000 and 1,000,000 deliveries (quick
   mode: 1,000 and 100,000), with what they imply in the proportions of a real log: four deliveries per run
   (``running``, ``awaiting_tool_calls``, ``running``, ``completed``), one round of two tool calls and their
   results per run, four timeline lines per run. Both files have the same recent activity: their newest
   ``RECENT`` deliveries (1,000), one every ``SPACING`` seconds up to now, one in a hundred refused (bad
   signature); the big file's older ones lie before the last ``HISTORY_GAP`` (two days: outside every window
   of the Overview and beyond the refused deliveries' retention, so none of them is refused), one every
   ``SPACING`` seconds, so 1,000,000 span about a month. The files differ in what is stored, not in what
   happened lately: that is the cost curve;
2. starts the real console on each file (sign-in off, loopback; a fixed webhook secret), both at once, and
   reads each one's RSS once it answers;
3. side by side, alternating small and big (so drift in the machine's load hits both alike): the ingest rate
   of signed deliveries for new runs (httpx, ``CONCURRENCY`` in flight), the first page of ``GET
   /api/deliveries`` and ``GET /api/runs`` and ``GET /api/overview`` (median of ``REPEATS``, call by call in
   turn), and in Chromium the time from navigation to the first row of the Deliveries and Runs pages, and to
   the Overview's first number;
4. reads the big console's RSS after the ingest and after browsing, and prints the rows (``bench/table.py``).

Every figure is the big database's against the small one's: "varies" is ``|big / small - 1|``.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import hashlib
import json
import secrets
import shutil
import sqlite3
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import httpx
from ingest import Server, clean_env, free_port
from standardwebhooks.webhooks import Webhook
from table import Row, markdown

ROOT = Path(__file__).resolve().parent.parent
PYTHON = sys.executable
AGENT_ID = "5f0c6b2e-8a4d-4c1e-9a57-2b3f3c4d5e6f"
SPACING = 2.6
"""Seconds between two seeded deliveries: 1,000,000 of them span 30 days."""
RECENT = 1_000
"""The newest deliveries, the same in both files: about the last 45 minutes."""
HISTORY_GAP = 2 * 86400.0
"""Seconds between the recent deliveries and the older ones."""
BATCH = 50_000
CONCURRENCY = 16
REPEATS = 15
SMALL, BIG, QUICK_BIG = 1_000, 1_000_000, 100_000
VARIES = 0.20
RSS_GOAL_MB = 300.0
CHROMIUM = "/usr/bin/chromium"
STATUSES = ("running", "awaiting_tool_calls", "running", "completed")


# --- seeding -----------------------------------------------------------------------------------


def seed(path: Path, deliveries: int, *, now: float) -> None:
    """A fresh database at ``path`` with ``deliveries`` deliveries and the runs, rounds, calls, results and
    timeline lines they imply (four deliveries per run); the newest delivery is received at ``now``."""
    from app.db import make_engine  # the console's own schema, indexes included

    make_engine(f"sqlite:///{path}").dispose()
    connection = sqlite3.connect(path, isolation_level=None)
    for pragma in ("journal_mode=OFF", "synchronous=OFF", "cache_size=-262144"):  # seeding only; 256 MiB cache
        connection.execute(f"PRAGMA {pragma}")
    try:
        for table, rows in _tables(deliveries, now=now):
            columns = list(rows[0])
            sql = f'INSERT INTO "{table}" ({", ".join(columns)}) VALUES ({", ".join("?" * len(columns))})'
            connection.execute("BEGIN")
            connection.executemany(sql, ([row[c] for c in columns] for row in rows))
            connection.execute("COMMIT")
        connection.execute("PRAGMA journal_mode=WAL")  # as the console keeps it
    finally:
        connection.close()


def _tables(deliveries: int, *, now: float) -> Iterator[tuple[str, list[dict[str, Any]]]]:
    """Batches of rows, table by table, ``BATCH`` runs' worth at a time."""
    runs = (deliveries + len(STATUSES) - 1) // len(STATUSES)
    for start in range(0, runs, BATCH // len(STATUSES)):
        batch: dict[str, list[dict[str, Any]]] = {
            "run": [],
            "round": [],
            "tool_call": [],
            "tool_result": [],
            "event": [],
            "delivery": [],
        }
        for task_id in range(start + 1, min(runs, start + BATCH // len(STATUSES)) + 1):
            _run_rows(batch, task_id, deliveries=deliveries, now=now)
        for table, rows in batch.items():
            if rows:
                yield table, rows


def _run_rows(batch: dict[str, list[dict[str, Any]]], task_id: int, *, deliveries: int, now: float) -> None:
    """One run's rows: its deliveries (``received_at``: ``_received``), the run, its round of two calls with
    their results, four timeline lines."""
    base = (task_id - 1) * len(STATUSES)
    stages = min(len(STATUSES), deliveries - base)
    received = [_received(deliveries - (base + stage) - 1, now) for stage in range(stages)]
    for stage in range(stages):
        delivery_id = base + stage + 1
        body = _body(task_id, stage)
        refused = delivery_id % 100 == 0 and deliveries - delivery_id < RECENT
        batch["delivery"].append(
            {
                "id": delivery_id,
                "received_at": received[stage],
                "webhook_id": f"msg_seed_{delivery_id:012d}",
                "headers": json.dumps(
                    {"webhook-id": f"msg_seed_{delivery_id:012d}", "content-type": "application/json"}
                ),
                "body": body,
                "verdict": "bad_signature" if refused else "applied",
                "message": "no signature matches" if refused else "",
                "answered_status": 401 if refused else 200,
                "task_id": task_id,
                "sequence": stage + 1,
                "status": STATUSES[stage],
                "replay_of": None,
                "body_length": len(body),
                "body_sha256": hashlib.sha256(body).hexdigest(),
                "body_truncated": 0,
                "console_made": 0,
            }
        )
    created, updated = received[0], received[-1]
    done = stages == len(STATUSES)
    batch["run"].append(
        {
            "task_id": task_id,
            "agent_id": AGENT_ID,
            "status": "completed" if done else "cancelled",  # seeded runs are all over: nothing to reconcile
            "sequence": stages,
            "round": 1,
            "environment": "playground",
            "string_inputs": json.dumps({"order": f"ORD-{task_id}"}),
            "result": json.dumps(f"Order ORD-{task_id} ships tomorrow") if done else None,
            "error": None,
            "started_by": "seed",
            "created_at": created,
            "updated_at": updated,
            "replay_of": None,
            "replay_until": None,
            "ended_at": updated,
            "handler_set": "saved",
        }
    )
    batch["round"].append(
        {
            "id": task_id,
            "task_id": task_id,
            "agent_id": AGENT_ID,
            "round": 1,
            "state": "submitted",
            "expires_at": None,
            "opened_at": created + 1,
            "submitted_at": created + 2,
            "acknowledged_at": created + 2,
            "message": "",
            "answered_kind": "static" if task_id % 3 else "person",
            "answered_version": 1 if task_id % 3 else None,
            "answered_user": None if task_id % 3 else "seed",
            "answered_replay_of": None,
        }
    )
    for position in range(2):
        call_id = f"call_{task_id}_{position + 1}"
        batch["tool_call"].append(
            {
                "round_id": task_id,
                "tool_call_id": call_id,
                "name": ("get_current_time", "lookup_order")[position],
                "arguments": json.dumps({"timezone": "Europe/Berlin"} if position == 0 else {"order_id": task_id}),
                "position": position,
                "arguments_text": None,
                "arguments_problem": None,
            }
        )
        batch["tool_result"].append(
            {
                "round_id": task_id,
                "tool_call_id": call_id,
                "output": "12:00" if position == 0 else '{"status": "packed"}',
                "is_error": 0,
                "created_at": created + 2,
                "answered_kind": "static" if task_id % 3 else "person",
                "answered_version": 1 if task_id % 3 else None,
                "answered_user": None if task_id % 3 else "seed",
                "answered_replay_of": None,
            }
        )
    for offset, kind in enumerate(("started", "round_opened", "round_submitted", "state")):
        batch["event"].append(
            {
                "task_id": task_id,
                "at": created + offset,
                "kind": kind,
                "summary": kind.replace("_", " "),
                "delivery_id": None,
                "round_id": task_id if kind.startswith("round") else None,
                "console_made": 0,
            }
        )


def _received(age: int, now: float) -> float:
    """When the delivery with ``age`` newer ones was received: the ``RECENT`` newest ``SPACING`` apart up to
    ``now``, the older ones likewise but before ``HISTORY_GAP``."""
    return now - age * SPACING - (HISTORY_GAP if age >= RECENT else 0.0)


def _body(task_id: int, stage: int) -> bytes:
    body: dict[str, Any] = {
        "agent_id": AGENT_ID,
        "task_id": task_id,
        "status": STATUSES[stage],
        "sequence": stage + 1,
        "round": 1 if stage >= 1 else None,
        "result": None,
        "error": None,
        "environment": "playground",
    }
    if stage == 1:
        body["tool_calls"] = [
            {"id": f"call_{task_id}_1", "name": "get_current_time", "arguments": {"timezone": "Europe/Berlin"}},
            {"id": f"call_{task_id}_2", "name": "lookup_order", "arguments": {"order_id": task_id}},
        ]
    if stage == 3:
        body["result"] = f"Order ORD-{task_id} ships tomorrow"
    return json.dumps(body).encode()


# --- the load ----------------------------------------------------------------------------------


@dataclass
class Loader:
    """Signed deliveries for new runs (task ids above every seeded one), four statuses each, in order."""

    secret: str
    next_task: int = 900_000_001
    webhook: Webhook = field(init=False)

    def __post_init__(self) -> None:
        self.webhook = Webhook(self.secret)

    def bodies(self, count: int) -> list[bytes]:
        tasks = (count + len(STATUSES) - 1) // len(STATUSES)
        first, self.next_task = self.next_task, self.next_task + tasks
        out = []
        for task_id in range(first, first + tasks):
            for stage in range(len(STATUSES)):
                body = json.loads(_body(task_id, stage))
                if stage == 1:
                    expires = datetime.now(UTC) + timedelta(minutes=10)
                    body["expires_at"] = expires.isoformat(timespec="seconds")
                out.append(json.dumps(body).encode())
        return out[:count]

    async def send(self, base_url: str, count: int) -> float:
        """Send ``count`` deliveries, ``CONCURRENCY`` in flight; deliveries per second (every answer must be 2xx)."""
        bodies = iter(self.bodies(count))
        failures: list[str] = []
        limits = httpx.Limits(max_connections=CONCURRENCY, max_keepalive_connections=CONCURRENCY)
        async with httpx.AsyncClient(base_url=base_url, limits=limits, timeout=30.0, trust_env=False) as client:

            async def worker() -> None:
                for body in bodies:
                    webhook_id = "msg_" + secrets.token_hex(12)
                    now = datetime.now(UTC)
                    headers = {
                        "webhook-id": webhook_id,
                        "webhook-timestamp": str(int(now.timestamp())),
                        "webhook-signature": self.webhook.sign(webhook_id, now, body.decode()),
                        "content-type": "application/json",
                    }
                    try:
                        response = await client.post("/webhooks/sudoiq", content=body, headers=headers)
                    except httpx.TransportError as exc:  # counted, not retried: the rate is what was taken
                        failures.append(f"{type(exc).__name__}: {exc}")
                        continue
                    if not 200 <= response.status_code < 300:
                        failures.append(f"HTTP {response.status_code} {response.text[:200]}")

            started = time.perf_counter()
            await asyncio.gather(*(worker() for _ in range(CONCURRENCY)))
            seconds = time.perf_counter() - started
        print(f"{base_url}: {count / seconds:,.0f} deliveries/s", file=sys.stderr)
        if len(failures) > count // 100:
            raise RuntimeError(f"{len(failures)} of {count} deliveries not taken, e.g. {failures[0]}")
        if failures:
            print(f"{base_url}: {len(failures)} not taken, e.g. {failures[0]}", file=sys.stderr)
        return (count - len(failures)) / seconds


# --- measuring ---------------------------------------------------------------------------------


def http_first_pages(bases: dict[str, str], path: str) -> dict[str, float]:
    """Per database: median milliseconds of ``GET path`` over ``REPEATS`` calls (after one unmeasured call
    each), the databases taking turns call by call so the machine's load hits both alike."""
    samples: dict[str, list[float]] = {label: [] for label in bases}
    with httpx.Client(timeout=60.0, trust_env=False) as client:
        for base in bases.values():
            client.get(base + path).raise_for_status()
        for _ in range(REPEATS):
            for label, base in bases.items():
                started = time.perf_counter()
                client.get(base + path).raise_for_status()
                samples[label].append((time.perf_counter() - started) * 1000)
    found = {label: statistics.median(values) for label, values in samples.items()}
    print(f"{path}: " + ", ".join(f"{label} {ms:,.1f} ms" for label, ms in found.items()), file=sys.stderr)
    return found


PAGES: dict[str, tuple[str, str]] = {
    "Deliveries": ("/deliveries", "document.querySelector('tbody tr td') !== null"),
    "Runs": ("/runs", "document.querySelector('tbody tr td') !== null"),
    "Overview": ("/overview", "[...document.querySelectorAll('.text-3xl')].some(e => /\\d/.test(e.textContent))"),
}


def browser_first_rows(bases: dict[str, str], rounds: int) -> dict[tuple[str, str], float]:
    """Per (database, page): median milliseconds from navigation to the first row (the Overview: its first
    number), over ``rounds`` page loads each, alternating the databases."""
    from playwright.sync_api import TimeoutError as PlaywrightTimeout
    from playwright.sync_api import sync_playwright

    samples: dict[tuple[str, str], list[float]] = {}
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM,
            args=["--no-sandbox", "--disable-background-networking", "--disable-component-update", "--disable-sync"],
        )
        try:
            for attempt in range(rounds + 1):  # the first round warms each page up and is not counted
                for label, base in bases.items():
                    for name, (path, ready) in PAGES.items():
                        page = browser.new_page()
                        started = time.perf_counter()
                        page.goto(base + path, wait_until="commit")
                        try:
                            page.wait_for_function(ready, timeout=60_000, polling="raf")
                            took = (time.perf_counter() - started) * 1000
                        except PlaywrightTimeout:
                            took = float("inf")
                        if attempt:
                            samples.setdefault((label, name), []).append(took)
                        print(f"{label} {name} page: {took:,.0f} ms", file=sys.stderr)
                        page.close()
        finally:
            browser.close()
    return {key: statistics.median(values) for key, values in samples.items()}


def _varies(small: float, big: float) -> float:
    return abs(big / small - 1) if small else float("inf")


def _alternate(labels: list[str], action: Callable[[str], float], times: int) -> dict[str, float]:
    """``action(label)`` for each label in turn, ``times`` over; the median per label."""
    found: dict[str, list[float]] = {label: [] for label in labels}
    for _ in range(times):
        for label in labels:
            found[label].append(action(label))
    return {label: statistics.median(values) for label, values in found.items()}


def measure(*, quick: bool, keep: bool = False) -> list[Row]:
    """Seed, start both consoles, measure side by side, stop them; the rows of the table."""
    big = QUICK_BIG if quick else BIG
    sizes = {"small": SMALL, "big": big}
    folder = Path(tempfile.mkdtemp(prefix="tooldesk-cost-"))
    secret = "whsec_" + base64.b64encode(secrets.token_bytes(24)).decode()
    servers: dict[str, Server] = {}
    notes: list[str] = []
    try:
        now = time.time()
        for label, count in sizes.items():
            started = time.perf_counter()
            seed(folder / f"{label}.db", count, now=now)
            megabytes = (folder / f"{label}.db").stat().st_size / 2**20
            print(
                f"seeded {count:,} deliveries in {time.perf_counter() - started:.0f} s ({megabytes:,.0f} MB)",
                file=sys.stderr,
            )
        for label in sizes:
            port = free_port()
            env = clean_env(
                TOOLDESK_DATABASE_URL=f"sqlite:///{folder / (label + '.db')}",
                TOOLDESK_PORT=str(port),
                TOOLDESK_AUTH="off",
                TOOLDESK_WEBHOOK_SECRET=secret,
                PYTHONPATH=str(ROOT),  # this checkout's console, whatever the interpreter has installed
            )
            command = [PYTHON, "-m", "app", "--port", str(port)]
            servers[label] = Server.start(label, command, cwd=folder, env=env, port=port)
        for server in servers.values():
            server.wait_ready("/api/deliveries?per_page=1", expect=200)
        time.sleep(2.0)  # the start-up work (agent sync, reconciliation, the first thinning) settles
        rss_start = servers["big"].rss_mib()
        print(f"RSS at start: {rss_start:.0f} MB (small {servers['small'].rss_mib():.0f} MB)", file=sys.stderr)
        labels = list(sizes)
        bases = {label: server.base_url for label, server in servers.items()}
        loader = Loader(secret)
        ingest_count = 300 if quick else 1500
        for label in labels:  # warm-up, unmeasured
            asyncio.run(loader.send(bases[label], 100))
        rates = _alternate(
            labels, lambda label: asyncio.run(loader.send(bases[label], ingest_count)), 2 if quick else 3
        )
        rss_ingest = servers["big"].rss_mib()
        api = {path: http_first_pages(bases, path) for path in ("/api/deliveries", "/api/runs", "/api/overview")}
        browser: dict[tuple[str, str], float] = {}
        if Path(CHROMIUM).exists():
            browser = browser_first_rows(bases, 2 if quick else 5)
        else:
            notes.append("no Chromium: browser first rows not measured")
        rss_browse = servers["big"].rss_mib()
    finally:
        for server in servers.values():
            server.stop()
        if keep:
            print(f"kept: {folder}", file=sys.stderr)
        else:
            shutil.rmtree(folder, ignore_errors=True)

    scale = f"{SMALL:,} → {big:,}" + (" (quick: 100,000, not 1,000,000)" if quick else "")
    rows = []
    ingest_varies = _varies(rates["small"], rates["big"])
    rows.append(
        Row(
            measure="cost curve 1k → 1M: ingest rate",
            goal="varies < 20 %",
            measured=f"{ingest_varies * 100:.0f} % ({rates['small']:,.0f} → {rates['big']:,.0f} deliveries/s)",
            met=ingest_varies < VARIES,
            note=f"{scale} stored deliveries; httpx, {CONCURRENCY} in flight, median of alternating runs",
        )
    )
    parts, worst = [], 0.0
    for path, found in api.items():
        worst = max(worst, _varies(found["small"], found["big"]))
        parts.append(f"{path} {found['small']:.0f} → {found['big']:.0f} ms")
    for name in PAGES:
        if ("small", name) in browser:
            small_ms, big_ms = browser[("small", name)], browser[("big", name)]
            worst = max(worst, _varies(small_ms, big_ms))
            parts.append(f"{name} page {small_ms:.0f} → {big_ms:.0f} ms")
    rows.append(
        Row(
            measure="cost curve 1k → 1M: first page",
            goal="varies < 20 %",
            measured=f"{worst * 100:.0f} % at most",
            met=worst < VARIES,
            note=f"{scale}: " + "; ".join(parts) + ("; " + "; ".join(notes) if notes else ""),
        )
    )
    rows.append(
        Row(
            measure=f"memory, RSS after {big:,} deliveries",
            goal=f"≤ {RSS_GOAL_MB:.0f} MB",
            measured=f"{max(rss_start, rss_ingest, rss_browse):.0f} MB",
            met=max(rss_start, rss_ingest, rss_browse) <= RSS_GOAL_MB,
            note=f"VmRSS of the console: {rss_start:.0f} MB at start, {rss_ingest:.0f} MB after the ingest, "
            f"{rss_browse:.0f} MB after browsing the pages" + (" (quick: 100,000 stored)" if quick else ""),
        )
    )
    return rows


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--quick", action="store_true", help="1,000 against 100,000 stored deliveries")
    parser.add_argument("--keep", action="store_true", help="keep the databases and the consoles' logs")
    args = parser.parse_args()
    print(markdown(measure(quick=args.quick, keep=args.keep)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
