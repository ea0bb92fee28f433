"""Webhook ingest throughput: the console's ``POST /webhooks/sudoiq`` against a bare baseline.

Run from the repository root::

    .venv/bin/python bench/ingest.py [--requests 2000] [--concurrency 32] [--warmup 100]

What it does:

1. starts the real console (``python -m app --port <free port>``) in a temporary
   folder with its own SQLite file and a generated ``whsec_`` secret, and waits
   until ``GET /signin`` answers 200;
2. starts the baseline (``bench/baseline_app.py`` under uvicorn): verify the
   signature, one SQLite INSERT (WAL, ``synchronous=FULL``), commit, answer 200;
3. from this process (the servers are separate processes), sends signed
   deliveries with ``httpx.AsyncClient`` over HTTP/1.1 at a fixed concurrency:
   to the console (fresh process), the baseline, then the console again (the
   same process, now warm and with the first run's rows in its database). Each
   target first gets ``--warmup`` deliveries that are not measured;
4. prints a Markdown table: req/s, p50/p99 latency, non-2xx answers, the server's
   RSS after the run and the server CPU time per request;
5. stops both servers (also on Ctrl-C or error) and removes the temporary folder
   (``--keep`` leaves it, with the servers' logs and databases).

Every delivery has its own ``webhook-id`` and is signed just before it is sent.
Per task there are four statuses with increasing ``sequence``: ``running`` (1),
``awaiting_tool_calls`` with two tool calls (2), ``running`` (3), ``completed``
(4); a task's later statuses are sent about 64 requests after its earlier ones,
so at concurrency 32 they arrive mostly, not strictly, in order.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import contextlib
import importlib.util
import json
import math
import os
import platform
import re
import secrets
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time
import traceback
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import FrameType
from typing import Any

# httpcore 1.0 runs `import sniffio` each time it sets up a pool lock; sniffio is not installed here,
# so every attempt searched sys.path again (about 12 failed imports per request, a third of the load
# generator's CPU in a profile). A None entry makes that import fail at once; httpcore then assumes asyncio.
if importlib.util.find_spec("sniffio") is None:
    sys.modules["sniffio"] = None  # type: ignore[assignment]

import httpx
from standardwebhooks.webhooks import Webhook

ROOT = Path(__file__).resolve().parent.parent
BENCH_DIR = Path(__file__).resolve().parent
PYTHON = sys.executable
WEBHOOK_PATH = "/webhooks/sudoiq"
AGENT_ID = "5f0c6b2e-8a4d-4c1e-9a57-2b3f3c4d5e6f"
STAGES = 4  # statuses per task
STAGGER = 16  # positions between a task's consecutive statuses (4 requests each)
STARTUP_SECONDS = 60.0
STOP_SECONDS = 10.0
REQUEST_TIMEOUT = 30.0
CLK_TCK = os.sysconf("SC_CLK_TCK")


# --- the servers -------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def clean_env(**extra: str) -> dict[str, str]:
    """This process's environment without test or Tooldesk settings, plus ``extra``."""
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("TOOLDESK_", "PYTEST_", "NICEGUI_", "BENCH_"))
    }
    env["PYTHONUNBUFFERED"] = "1"
    env.update(extra)
    return env


@dataclass
class Server:
    name: str
    port: int
    log_path: Path
    process: subprocess.Popen[bytes]

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @classmethod
    def start(cls, name: str, command: list[str], *, cwd: Path, env: dict[str, str], port: int) -> Server:
        log_path = cwd / f"{name}.log"
        with log_path.open("wb") as log:
            process = subprocess.Popen(
                command,
                cwd=cwd,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # Ctrl-C reaches only this script, which then stops the servers in order
            )
        return cls(name=name, port=port, log_path=log_path, process=process)

    def wait_ready(self, path: str, *, expect: int | None) -> None:
        """Poll ``GET path`` until it answers (``expect``: that status; ``None``: any status)."""
        deadline = time.monotonic() + STARTUP_SECONDS
        last = "no answer yet"
        with httpx.Client(timeout=2.0, trust_env=False) as client:
            while time.monotonic() < deadline:
                if self.process.poll() is not None:
                    raise RuntimeError(
                        f"{self.name} exited with status {self.process.returncode} while starting:\n{self.log_tail()}"
                    )
                try:
                    response = client.get(self.base_url + path)
                    if expect is None or response.status_code == expect:
                        return
                    last = f"HTTP {response.status_code}"
                except httpx.TransportError as exc:
                    last = type(exc).__name__
                time.sleep(0.2)
        raise RuntimeError(
            f"{self.name} did not answer GET {path} within {STARTUP_SECONDS:.0f} s ({last}):\n{self.log_tail()}"
        )

    def rss_mib(self) -> float:
        """Resident memory of the server process (VmRSS), MiB."""
        status = Path(f"/proc/{self.process.pid}/status").read_text()
        match = re.search(r"^VmRSS:\s+(\d+)\s+kB", status, re.MULTILINE)
        return int(match.group(1)) / 1024 if match else float("nan")

    def cpu_seconds(self) -> float:
        """User + system CPU time of the server process, all threads, in seconds."""
        stat = Path(f"/proc/{self.process.pid}/stat").read_text()
        fields = stat.rsplit(")", 1)[1].split()  # after "pid (comm)"; utime and stime are fields 14 and 15
        return (int(fields[11]) + int(fields[12])) / CLK_TCK

    def log_tail(self, lines: int = 30) -> str:
        try:
            text = self.log_path.read_text(errors="replace")
        except OSError:
            return "(no log)"
        return "\n".join(text.splitlines()[-lines:])

    def stop(self) -> None:
        """SIGTERM (uvicorn shuts down gracefully), SIGKILL after ``STOP_SECONDS``."""
        if self.process.poll() is not None:
            return
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(timeout=STOP_SECONDS)
        except subprocess.TimeoutExpired:
            print(f"{self.name} did not stop within {STOP_SECONDS:.0f} s: killing it", file=sys.stderr)
            self.process.kill()
            self.process.wait(timeout=STOP_SECONDS)


# --- the workload ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Delivery:
    webhook_id: str
    body: bytes


@dataclass
class Workload:
    """Makes deliveries for fresh task ids: every call continues the numbering."""

    next_task: int = 5_000_001

    def make(self, count: int) -> list[Delivery]:
        tasks = math.ceil(count / STAGES)
        first = self.next_task
        self.next_task += tasks
        order = sorted(
            ((index, stage) for index in range(tasks) for stage in range(STAGES)),
            key=lambda item: (item[0] + item[1] * STAGGER, item[1]),
        )
        return [self._delivery(first + index, stage) for index, stage in order[:count]]

    @staticmethod
    def _delivery(task_id: int, stage: int) -> Delivery:
        body: dict[str, Any] = {
            "agent_id": AGENT_ID,
            "task_id": task_id,
            "status": ("running", "awaiting_tool_calls", "running", "completed")[stage],
            "sequence": stage + 1,
            "round": None,
            "result": None,
            "error": None,
            "environment": "playground",
        }
        if stage == 1:
            body["round"] = 1
            body["expires_at"] = (datetime.now(UTC) + timedelta(minutes=10)).isoformat(timespec="seconds")
            body["tool_calls"] = [
                {"id": f"call_{task_id}_1", "name": "get_current_time", "arguments": {"timezone": "Europe/Berlin"}},
                {
                    "id": f"call_{task_id}_2",
                    "name": "lookup_order",
                    "arguments": {"order_id": f"ORD-{task_id}", "include_items": True},
                },
            ]
        if stage == 3:
            body["result"] = {"answer": f"Order ORD-{task_id} ships tomorrow; local time noted.", "tokens": 412}
        return Delivery(webhook_id="msg_" + secrets.token_hex(12), body=json.dumps(body).encode())


def signed_headers(webhook: Webhook, delivery: Delivery) -> dict[str, str]:
    """Standard Webhooks headers for ``delivery``, timestamped now."""
    now = datetime.now(UTC)
    return {
        "webhook-id": delivery.webhook_id,
        "webhook-timestamp": str(int(now.timestamp())),
        "webhook-signature": webhook.sign(delivery.webhook_id, now, delivery.body.decode()),
        "content-type": "application/json",
    }


# --- the load ----------------------------------------------------------------------------------


@dataclass
class RunResult:
    target: str
    sent: int = 0
    seconds: float = 0.0
    latencies: list[float] = field(default_factory=list)
    failures: Counter[str] = field(default_factory=Counter)
    failure_samples: list[str] = field(default_factory=list)
    verdicts: Counter[str] = field(default_factory=Counter)
    timed_out: bool = False
    rss_mib: float = float("nan")
    server_cpu_seconds: float = 0.0
    client_cpu_seconds: float = 0.0

    def percentile(self, p: float) -> float:
        if not self.latencies:
            return float("nan")
        ordered = sorted(self.latencies)
        return ordered[max(0, math.ceil(p / 100 * len(ordered)) - 1)] * 1000


async def send_all(
    clients: list[httpx.AsyncClient],
    url: str,
    deliveries: list[Delivery],
    *,
    webhook: Webhook,
    concurrency: int,
    deadline: float,
    result: RunResult,
) -> None:
    """Send ``deliveries`` with ``concurrency`` workers spread over ``clients``; none starts after ``deadline``."""
    queue = iter(deliveries)

    async def worker(client: httpx.AsyncClient) -> None:
        for delivery in queue:
            if time.monotonic() > deadline:
                result.timed_out = True
                return
            headers = signed_headers(webhook, delivery)
            started = time.perf_counter()
            try:
                response = await client.post(url, content=delivery.body, headers=headers)
            except httpx.HTTPError as exc:
                result.sent += 1
                result.failures[type(exc).__name__] += 1
                if len(result.failure_samples) < 5:
                    result.failure_samples.append(f"{delivery.webhook_id}: {type(exc).__name__}: {exc}")
                continue
            result.latencies.append(time.perf_counter() - started)
            result.sent += 1
            if not 200 <= response.status_code < 300:
                result.failures[f"HTTP {response.status_code}"] += 1
                if len(result.failure_samples) < 5:
                    result.failure_samples.append(
                        f"{delivery.webhook_id}: HTTP {response.status_code} {response.text[:300]}"
                    )
                continue
            try:
                verdict = response.json().get("verdict", "ok")
            except (ValueError, AttributeError):
                verdict = "unreadable answer"
            result.verdicts[str(verdict)] += 1

    await asyncio.gather(*(worker(clients[index % len(clients)]) for index in range(concurrency)))


async def measure(
    server: Server,
    label: str,
    workload: Workload,
    *,
    requests: int,
    warmup: int,
    concurrency: int,
    clients: int,
    secret: str,
    time_limit: float,
) -> RunResult:
    """Warm up, then send ``requests`` deliveries to ``server`` and measure them."""
    url = server.base_url + WEBHOOK_PATH
    webhook = Webhook(secret)
    per_client = math.ceil(concurrency / clients)  # together the pools hold at least `concurrency` connections
    limits = httpx.Limits(max_connections=per_client, max_keepalive_connections=per_client)
    timeout = httpx.Timeout(REQUEST_TIMEOUT)
    async with contextlib.AsyncExitStack() as stack:
        pool = [
            await stack.enter_async_context(
                httpx.AsyncClient(
                    http1=True, http2=False, limits=limits, timeout=timeout, trust_env=False, verify=False
                )
            )
            for _ in range(clients)
        ]
        if warmup:
            scratch = RunResult(target=label + " (warm-up)")
            await send_all(
                pool,
                url,
                workload.make(warmup),
                webhook=webhook,
                concurrency=concurrency,
                deadline=time.monotonic() + time_limit,
                result=scratch,
            )
            if scratch.failures:
                print(f"{label}: warm-up failures {dict(scratch.failures)}: {scratch.failure_samples}", file=sys.stderr)
        deliveries = workload.make(requests)
        result = RunResult(target=label)
        cpu_before, client_before = server.cpu_seconds(), time.process_time()
        started = time.perf_counter()
        await send_all(
            pool,
            url,
            deliveries,
            webhook=webhook,
            concurrency=concurrency,
            deadline=time.monotonic() + time_limit,
            result=result,
        )
        result.seconds = time.perf_counter() - started
        result.server_cpu_seconds = server.cpu_seconds() - cpu_before
        result.client_cpu_seconds = time.process_time() - client_before
    result.rss_mib = server.rss_mib()
    return result


# --- reporting ---------------------------------------------------------------------------------


def table(results: list[RunResult], concurrency: int) -> str:
    lines = [
        "| target | requests | concurrency | req/s | p50 ms | p99 ms | non-2xx | RSS MiB | server CPU ms/req |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in results:
        rate = r.sent / r.seconds if r.seconds else float("nan")
        cpu = r.server_cpu_seconds * 1000 / r.sent if r.sent else float("nan")
        lines.append(
            f"| {r.target}{' (stopped at the time limit)' if r.timed_out else ''} | {r.sent} | {concurrency} | {rate:.0f} | {r.percentile(50):.1f} | {r.percentile(99):.1f}"
            f" | {sum(r.failures.values())} | {r.rss_mib:.0f} | {cpu:.2f} |"
        )
    return "\n".join(lines)


def machine() -> str:
    cpus = len(os.sched_getaffinity(0))
    model = "unknown CPU"
    try:
        match = re.search(r"^model name\s*:\s*(.+)$", Path("/proc/cpuinfo").read_text(), re.MULTILINE)
        model = match.group(1).strip() if match else model
    except OSError:
        pass
    return (
        f"Machine: nproc {cpus} ({model}), Python {platform.python_version()}, "
        f"{platform.system()} {platform.release()}, SQLite {sqlite3.sqlite_version}; "
        "load generator and both servers on the same host, over 127.0.0.1."
    )


def stored_counts(path: Path, query: str) -> str:
    """Rows in a server's database after it stopped (read-only)."""
    if not path.exists():
        return "no database"
    try:
        with sqlite3.connect(f"file:{path}?mode=ro", uri=True) as connection:
            rows = connection.execute(query).fetchall()
    except sqlite3.Error as exc:
        return f"unreadable ({exc})"
    return ", ".join(f"{key}: {value}" for key, value in rows)


def log_problems(server: Server) -> list[str]:
    try:
        text = server.log_path.read_text(errors="replace")
    except OSError:
        return []
    return [line for line in text.splitlines() if re.search(r"Traceback|ERROR|Error|Exception|WARNING", line)]


# --- main --------------------------------------------------------------------------------------


def _terminate(_signum: int, _frame: FrameType | None) -> None:
    raise KeyboardInterrupt


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--requests", type=int, default=2000, help="measured deliveries per target (default 2000)")
    parser.add_argument("--concurrency", type=int, default=32, help="requests in flight (default 32)")
    parser.add_argument("--warmup", type=int, default=100, help="unmeasured deliveries per target first (default 100)")
    parser.add_argument(
        "--clients",
        type=int,
        default=0,
        help="httpx.AsyncClient instances sharing the workers, each with a pool of concurrency/clients connections"
        " (default: one per worker; 1 = a single shared pool, which costs the load generator far more CPU)",
    )
    parser.add_argument("--time-limit", type=float, default=120.0, help="seconds per measured run before giving up")
    parser.add_argument("--keep", action="store_true", help="keep the temporary folder (logs, databases)")
    args = parser.parse_args(argv)
    if args.requests < 1 or args.concurrency < 1 or args.warmup < 0:
        parser.error("--requests and --concurrency must be at least 1, --warmup at least 0")
    clients = args.clients or args.concurrency
    if not 1 <= clients <= args.concurrency:
        parser.error("--clients must be between 1 and --concurrency")

    signal.signal(signal.SIGTERM, _terminate)
    workdir = Path(tempfile.mkdtemp(prefix="tooldesk-bench-"))
    secret = "whsec_" + base64.b64encode(secrets.token_bytes(24)).decode()
    servers: list[Server] = []
    results: list[RunResult] = []
    failed = False
    try:
        port = free_port()
        console = Server.start(
            "console",
            [PYTHON, "-m", "app", "--port", str(port)],
            cwd=workdir,
            env=clean_env(
                TOOLDESK_DATABASE_URL=f"sqlite:///{workdir}/bench.db",
                TOOLDESK_WEBHOOK_SECRET=secret,
                PYTHONPATH=str(ROOT),
            ),
            port=port,
        )
        servers.append(console)
        port = free_port()
        baseline = Server.start(
            "baseline",
            [
                *(PYTHON, "-m", "uvicorn", "baseline_app:app", "--app-dir", str(BENCH_DIR)),
                *("--host", "127.0.0.1", "--port", str(port), "--log-level", "warning"),
            ],
            cwd=workdir,
            env=clean_env(BENCH_DATABASE=str(workdir / "baseline.db"), BENCH_WEBHOOK_SECRET=secret),
            port=port,
        )
        servers.append(baseline)
        console.wait_ready("/signin", expect=200)  # open without signing in
        baseline.wait_ready(WEBHOOK_PATH, expect=None)
        print(f"console pid {console.process.pid} started, RSS {console.rss_mib():.0f} MiB", file=sys.stderr)

        workload = Workload()
        plan = [(console, "console"), (baseline, "baseline"), (console, "console (warm)")]
        for server, label in plan:
            print(f"{label}: {args.warmup} warm-up + {args.requests} measured deliveries ...", file=sys.stderr)
            result = asyncio.run(
                measure(
                    server,
                    label,
                    workload,
                    requests=args.requests,
                    warmup=args.warmup,
                    concurrency=args.concurrency,
                    clients=clients,
                    secret=secret,
                    time_limit=args.time_limit,
                )
            )
            results.append(result)
            rate = result.sent / result.seconds if result.seconds else 0.0
            print(
                f"  {result.sent} in {result.seconds:.1f} s ({rate:.0f} req/s); verdicts {dict(result.verdicts)};"
                f" load generator CPU {result.client_cpu_seconds * 1000 / max(result.sent, 1):.2f} ms/req",
                file=sys.stderr,
            )
            if result.timed_out:
                failed = True
                print(f"  {label}: stopped at the {args.time_limit:.0f} s limit", file=sys.stderr)
            if result.failures:
                failed = True
                print(f"  {label}: NON-2xx {dict(result.failures)}", file=sys.stderr)
                for sample in result.failure_samples:
                    print(f"    {sample}", file=sys.stderr)
    except KeyboardInterrupt:
        print("interrupted: stopping the servers", file=sys.stderr)
        failed = True
    except Exception:
        failed = True
        traceback.print_exc()
    finally:
        for server in reversed(servers):
            server.stop()

    if results:
        sys.stderr.flush()
        print()
        print(table(results, args.concurrency))
        print()
        print(machine())
        print()
        print(
            "Console deliveries stored:",
            stored_counts(workdir / "bench.db", "SELECT verdict, count(*) FROM delivery GROUP BY verdict ORDER BY 1"),
        )
        print(
            "Baseline deliveries stored:",
            stored_counts(workdir / "baseline.db", "SELECT 'rows', count(*) FROM delivery"),
        )
    for server in servers:
        problems = log_problems(server)
        if problems:
            print(f"\n{server.name} log: {len(problems)} line(s) with errors or warnings, first ones:")
            for line in problems[:10]:
                print(f"    {line}")
    if args.keep or failed:
        print(f"\nLogs and databases kept in {workdir}", file=sys.stderr)
    else:
        shutil.rmtree(workdir, ignore_errors=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
