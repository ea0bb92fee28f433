"""Webhook ingest under load: the console's ``POST /webhooks/sudoiq`` against the bare floor, with ``wrk``.

Run from the repository root (``make bench`` runs it among the others)::

    .venv/bin/python bench/ingest.py [--quick] [--no-pin] [--keep]

It starts the console the way ``make run`` does (``python -m app``, in a temporary folder with a throwaway SQLite
file, ``TOOLDESK_WEBHOOK_SECRET`` set, ``TOOLDESK_AUTH=off`` on loopback) and the floor (``bench/baseline_app.py``
under uvicorn: verify, one INSERT, commit, with WAL and ``synchronous=FULL``, the console's own durability). Load
comes from ``wrk`` replaying deliveries signed beforehand (``bench/wrk_replay.py``, ``bench/replay.lua``): per
task ``running`` -> ``awaiting_tool_calls`` with two tool calls -> ``running`` -> ``completed``, each delivery with
its own ``webhook-id``. The four measures of issue 10, each one ``Row`` of ``measure(quick=...)``:

1. **throughput**, 32 connections as fast as answers come: console and floor alternately in one run; the ratio
   of their rates of 2xx answers (goal >= 1.0), with acked/s, p50/p99 and server CPU per delivery of each;
2. **500 deliveries/s** for 30 s (quick: 5 s), 50 connections on a 2 ms schedule (closed loop: see
   ``replay.lua``): p99 ack <= 15 ms and no answer other than 2xx;
3. **overload**: 3x the throughput of (1) offered over 256 connections for 10 s (quick: 3 s), while a probe sends
   one delivery every 100 ms and times its answer; then sequential deliveries until one is acked fast again:
   the console must stay up, answer what it cannot take with 503 and ``Retry-After`` within 50 ms, and recover
   within 1 s of the burst's end;
4. **tabs**: the load of (1) without and with 10 headless Chromium tabs (Playwright) open on Inbox, Runs and
   Overview: the figures must change by under 10 %.

With two CPUs or more, the servers run on the last CPU and wrk, the browser and the probes on the others
(``taskset``), so the load generator and the browser's rendering do not take the servers' CPU time; ``--no-pin``
leaves scheduling to the kernel. The names ``Server``, ``clean_env``, ``free_port``, ``PYTHON``, ``ROOT``,
``WEBHOOK_PATH``, ``machine``, ``signed_headers`` and ``Delivery`` are imported by the other benchmarks.
"""

from __future__ import annotations

import argparse
import base64
import contextlib
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
import threading
import time
import traceback
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import FrameType
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import httpx
from browser_tabs import Tabs
from standardwebhooks.webhooks import Webhook
from table import Row, markdown
from wrk_replay import Summary, run_wrk, write_deliveries

ROOT = Path(__file__).resolve().parent.parent
BENCH_DIR = Path(__file__).resolve().parent
PYTHON = sys.executable
WEBHOOK_PATH = "/webhooks/sudoiq"
AGENT_ID = "5f0c6b2e-8a4d-4c1e-9a57-2b3f3c4d5e6f"  # no handlers: every round stays pending in the inbox
STAGES = 4  # statuses per task
STAGGER = 16  # positions between a task's consecutive statuses (4 requests each)
STARTUP_SECONDS = 60.0
STOP_SECONDS = 10.0
CLK_TCK = os.sysconf("SC_CLK_TCK")
HEADROOM = 4.0  # unpaced loads get a file of this many times the server's best rate so far
WARMUP_RATE = 3000  # deliveries/s the warm-up's file holds (repeats past it are duplicates: fine for a warm-up)


@dataclass(frozen=True)
class Mode:
    throughput_seconds: int
    throughput_rounds: int  # console and floor alternate this many times
    warmup_seconds: int
    sustained_seconds: int
    overload_seconds: int
    recovery_limit: float  # seconds after the burst the recovery probe keeps trying
    tabs_seconds: int
    tabs_pairs: int  # loads with tabs, each between two without (quick: one, after one without)


FULL = Mode(8, 2, 3, 30, 10, 30.0, 8, 3)
QUICK = Mode(2, 1, 1, 5, 3, 3.0, 2, 1)
CONNECTIONS = 32
SUSTAINED_RATE = 500.0
SUSTAINED_CONNECTIONS = 50
OVERLOAD_FACTOR = 3.0
OVERLOAD_CONNECTIONS = 256
TABS = 10


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


def pinned(command: list[str], cpus: Sequence[int] | None) -> list[str]:
    """``command`` run under ``taskset -c cpus`` (unchanged when ``cpus`` is empty)."""
    return ["taskset", "-c", ",".join(map(str, cpus)), *command] if cpus else command


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
    """Makes deliveries for fresh task ids: every call continues the numbering.

    Per task there are four statuses with increasing ``sequence``: ``running`` (1), ``awaiting_tool_calls`` with
    two tool calls (2), ``running`` (3), ``completed`` (4); a task's later statuses come about 64 deliveries after
    its earlier ones, so with 32 connections they arrive mostly, not strictly, in order."""

    next_task: int = 5_000_001

    def make(self, count: int) -> list[Delivery]:
        tasks = math.ceil(count / STAGES)
        first = self.next_task
        self.next_task += tasks
        order = sorted(
            ((index, stage) for index in range(tasks) for stage in range(STAGES)),
            key=lambda item: (item[0] + item[1] * STAGGER, item[1]),
        )
        expires_at = (datetime.now(UTC) + timedelta(minutes=10)).isoformat(timespec="seconds")
        return [self._delivery(first + index, stage, expires_at) for index, stage in order[:count]]

    @staticmethod
    def _delivery(task_id: int, stage: int, expires_at: str) -> Delivery:
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
            body["expires_at"] = expires_at
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


# --- the rig: both servers, the load and the probes ----------------------------------------------


@dataclass
class Load:
    """One wrk run against one server, with the server's CPU time over it."""

    summary: Summary
    server_cpu: float

    @property
    def cpu_ms(self) -> float:
        """Server CPU per answered delivery, ms."""
        return self.server_cpu * 1000 / self.summary.requests if self.summary.requests else float("nan")

    def brief(self) -> str:
        s = self.summary
        return f"{s.acked_rate:,.0f}/s, p50 {s.ms('p50'):.1f} ms, p99 {s.ms('p99'):.1f} ms, {self.cpu_ms:.2f} ms CPU/delivery"


@dataclass
class Rig:
    workdir: Path
    secret: str
    server_cpus: list[int]
    load_cpus: list[int]
    console: Server | None = None
    floor: Server | None = None
    workload: Workload = field(default_factory=Workload)
    files: int = 0
    peaks: dict[str, float] = field(default_factory=dict)  # server name -> best unpaced rate so far, deliveries/s
    tabs: Tabs | None = None
    tabs_error: str = ""  # why the browser did not start
    fast: float = 0.015  # seconds: an ack this fast means the console has no backlog (overload() measures it)

    @classmethod
    @contextlib.contextmanager
    def running(cls, *, pin: bool, keep: bool, with_tabs: bool, database_url: str = "") -> Iterator[Rig]:
        """Both servers started and answering (and with ``with_tabs`` a browser launched with blank tabs, ``tabs``);
        stopped (and the folder removed unless ``keep``) on the way out. ``database_url``: the console's database
        (default: a SQLite file in the folder, as ``make run`` makes); the floor's is always a SQLite file."""
        workdir = Path(tempfile.mkdtemp(prefix="tooldesk-bench-ingest-"))
        secret = "whsec_" + base64.b64encode(secrets.token_bytes(24)).decode()
        cpus = sorted(os.sched_getaffinity(0))
        server_cpus, load_cpus = (cpus[-1:], cpus[:-1]) if pin and len(cpus) >= 2 else ([], [])
        rig = cls(workdir=workdir, secret=secret, server_cpus=server_cpus, load_cpus=load_cpus)
        try:
            rig._start(with_tabs=with_tabs, database_url=database_url)
            yield rig
        finally:
            if rig.tabs is not None:
                rig.tabs.close()
            for server in (rig.console, rig.floor):
                if server is not None:
                    server.stop()
            if keep:
                print(f"logs and databases kept in {workdir}", file=sys.stderr)
            else:
                shutil.rmtree(workdir, ignore_errors=True)

    def _start(self, *, with_tabs: bool, database_url: str) -> None:
        port = free_port()
        self.console = Server.start(
            "console",
            pinned([PYTHON, "-m", "app", "--port", str(port)], self.server_cpus),
            cwd=self.workdir,
            env=clean_env(
                TOOLDESK_DATABASE_URL=database_url or f"sqlite:///{self.workdir}/console.db",
                TOOLDESK_WEBHOOK_SECRET=self.secret,
                TOOLDESK_AUTH="off",
                PYTHONPATH=str(ROOT),
            ),
            port=port,
        )
        port = free_port()
        self.floor = Server.start(
            "floor",
            pinned(
                [
                    *(PYTHON, "-m", "uvicorn", "baseline_app:app", "--app-dir", str(BENCH_DIR)),
                    *("--host", "127.0.0.1", "--port", str(port), "--log-level", "warning"),
                ],
                self.server_cpus,
            ),
            cwd=self.workdir,
            env=clean_env(BENCH_DATABASE=str(self.workdir / "floor.db"), BENCH_WEBHOOK_SECRET=self.secret),
            port=port,
        )
        if with_tabs:  # the browser starts while the servers do, on the load's CPUs: no measure pays for it
            self.tabs = Tabs.launch(self.console.base_url, TABS, cpus=self.load_cpus, env=clean_env())
        self.console.wait_ready("/api/runs?per_page=1", expect=200)
        self.floor.wait_ready(WEBHOOK_PATH, expect=None)
        if self.tabs is not None:
            try:
                self.tabs.wait_launched(timeout=STARTUP_SECONDS)
            except RuntimeError as exc:  # only the tabs' measure needs the browser: it reports this
                self.tabs_error = str(exc)

    @property
    def pinning(self) -> str:
        if not self.server_cpus:
            return "not pinned"
        return f"servers pinned to CPU {self.server_cpus[0]}, wrk, browser and probes to CPU {self.load_cpus[0]}"

    def load(
        self, server: Server, *, connections: int, seconds: int, rate: float | None = None, peak: float | None = None
    ) -> Load:
        """Sign a file of fresh deliveries and replay it with wrk. The file holds ``seconds`` of ``rate``, or of
        ``HEADROOM`` x ``peak`` (the rate this server reached before; ``WARMUP_RATE`` when unknown) when not paced:
        a server faster than that would run out and be sent repeats, which the row then flags."""
        self.files += 1
        path = self.workdir / f"deliveries-{self.files}.tsv"
        per_second = rate or HEADROOM * (peak or self.peaks.get(server.name, WARMUP_RATE / HEADROOM))
        write_deliveries(path, self.workload.make(int(per_second * seconds * 1.2) + 200), secret=self.secret)
        threads = max(1, len(self.load_cpus))
        before = server.cpu_seconds()
        summary = run_wrk(
            server.base_url + WEBHOOK_PATH,
            path,
            connections=connections,
            seconds=seconds,
            threads=threads,
            rate=rate,
            cpus=self.load_cpus,
        )
        cpu = server.cpu_seconds() - before
        path.unlink(missing_ok=True)
        if not rate:
            self.peaks[server.name] = max(self.peaks.get(server.name, 0.0), summary.rate)  # 503s too: sizing
        return Load(summary=summary, server_cpu=cpu)

    def settle(self, *, limit: float) -> float | None:
        """Send fresh deliveries one after another until one is acked 2xx within 3x the console's p50 of a quiet
        moment before (15 ms at least), for at most ``limit`` seconds; the seconds it took, or None."""
        began = time.monotonic()
        with httpx.Client(timeout=max(1.0, limit), trust_env=False) as client:
            while time.monotonic() - began < limit:
                status, seconds, _ = self.probe(client)
                if 200 <= status < 300 and seconds <= self.fast:
                    return time.monotonic() - began
        return None

    def probe(self, client: httpx.Client) -> tuple[int, float, bool]:
        """One fresh delivery, signed now: (status or 0 for no answer, seconds to the answer, Retry-After sent)."""
        assert self.console is not None
        delivery = self.workload.make(1)[0]
        headers = signed_headers(Webhook(self.secret), delivery)
        started = time.perf_counter()
        try:
            response = client.post(self.console.base_url + WEBHOOK_PATH, content=delivery.body, headers=headers)
        except httpx.HTTPError:
            return 0, time.perf_counter() - started, False
        return response.status_code, time.perf_counter() - started, "retry-after" in response.headers


# --- the measures --------------------------------------------------------------------------------


@dataclass
class Throughput:
    console: list[Load]
    floor: list[Load]

    @staticmethod
    def rate(loads: list[Load]) -> float:
        """Deliveries acked (2xx) per second over ``loads``."""
        return sum(x.summary.answered_2xx for x in loads) / sum(x.summary.seconds for x in loads)

    @staticmethod
    def brief(loads: list[Load]) -> str:
        requests = sum(x.summary.requests for x in loads)
        cpu = sum(x.server_cpu for x in loads) * 1000 / requests if requests else float("nan")
        p50 = sum(x.summary.ms("p50") for x in loads) / len(loads)
        p99 = sum(x.summary.ms("p99") for x in loads) / len(loads)
        return f"{Throughput.rate(loads):,.0f}/s, p50 {p50:.1f} ms, p99 {p99:.1f} ms, {cpu:.2f} ms CPU/delivery"


def throughput(rig: Rig, mode: Mode) -> tuple[Row, float]:
    """Console and floor alternately at 32 connections; the row and the console's rate (deliveries/s)."""
    assert rig.console is not None and rig.floor is not None
    for server in (rig.console, rig.floor):
        rig.load(server, connections=CONNECTIONS, seconds=mode.warmup_seconds)
    result = Throughput(console=[], floor=[])
    for round_ in range(mode.throughput_rounds):
        pairs = [(rig.floor, result.floor), (rig.console, result.console)]
        for server, into in pairs if round_ % 2 == 0 else reversed(pairs):
            into.append(rig.load(server, connections=CONNECTIONS, seconds=mode.throughput_seconds))
    console_rate, floor_rate = Throughput.rate(result.console), Throughput.rate(result.floor)
    ratio = console_rate / floor_rate if floor_rate else float("nan")
    problems = _problems(result.console + result.floor)
    row = Row(
        measure=f"ingest throughput, {CONNECTIONS} connections, console ÷ floor",
        goal="≥ 1.0 × floor",
        measured=f"{ratio:.2f} × floor (console {Throughput.brief(result.console)}; "
        f"floor {Throughput.brief(result.floor)})",
        met=ratio >= 1.0 and not problems,
        note=f"wrk, {mode.throughput_rounds}×{mode.throughput_seconds} s each side, alternating; floor = "
        f"bench/baseline_app.py (verify, INSERT, commit; WAL, synchronous=FULL); {rig.pinning}" + problems,
    )
    return row, console_rate


def sustained(rig: Rig, mode: Mode) -> Row:
    """500 deliveries/s for ``mode.sustained_seconds`` over 50 connections on a schedule; then the floor under the
    same load, for the note (how close the console is to what one INSERT and commit a delivery gets here)."""
    assert rig.console is not None and rig.floor is not None
    load = rig.load(rig.console, connections=SUSTAINED_CONNECTIONS, seconds=mode.sustained_seconds, rate=SUSTAINED_RATE)
    floor = rig.load(rig.floor, connections=SUSTAINED_CONNECTIONS, seconds=mode.sustained_seconds, rate=SUSTAINED_RATE)
    s = load.summary
    f = floor.summary
    bad = s.non2xx + s.socket_errors
    kept_up = s.acked_rate >= 0.98 * SUSTAINED_RATE
    late = s.late / s.requests if s.requests else 0.0
    return Row(
        measure=f"{SUSTAINED_RATE:.0f} deliveries/s for {mode.sustained_seconds} s",
        goal="p99 ack ≤ 15 ms, 0 non-2xx",
        measured=f"p99 {s.ms('p99'):.1f} ms, p50 {s.ms('p50'):.1f} ms, max {s.ms('max'):.0f} ms; "
        f"{s.acked_rate:,.0f}/s acked; {s.non2xx} non-2xx, {s.socket_errors} without answer",
        met=s.ms("p99") <= 15.0 and bad == 0 and kept_up,
        note=f"closed loop on a schedule: {SUSTAINED_CONNECTIONS} connections share one slot every "
        f"{1000 / SUSTAINED_RATE:.0f} ms (wrk delay()), at most {SUSTAINED_CONNECTIONS} in flight; "
        f"{late:.0%} of requests went after their slot" + ("" if kept_up else " (it did not keep up)")
        + f"; {load.cpu_ms:.2f} ms CPU/delivery; the floor under the same load just after: p99 {f.ms('p99'):.1f} ms, "
        f"p50 {f.ms('p50'):.1f} ms, max {f.ms('max'):.0f} ms, {floor.cpu_ms:.2f} ms CPU/delivery; {rig.pinning}"
        + _problems([load]),
    )  # fmt: skip


def overload(rig: Rig, mode: Mode, capacity: float) -> Row:
    """3x ``capacity`` offered for ``mode.overload_seconds``; 503 answers timed by a probe; recovery after it."""
    assert rig.console is not None
    offered = OVERLOAD_FACTOR * capacity
    with httpx.Client(timeout=mode.recovery_limit + 1, trust_env=False) as client:
        idle = sorted(rig.probe(client)[1] for _ in range(15))
        fast = rig.fast = max(0.015, 3 * idle[len(idle) // 2])
        samples: list[tuple[int, float, bool]] = []
        stop = threading.Event()

        def probe_during_burst() -> None:
            with httpx.Client(timeout=30.0, trust_env=False) as own:
                while not stop.wait(0.1):
                    samples.append(rig.probe(own))

        prober = threading.Thread(target=probe_during_burst, daemon=True)
        prober.start()
        try:
            load = rig.load(
                rig.console, connections=OVERLOAD_CONNECTIONS, seconds=mode.overload_seconds, rate=offered
            )  # fmt: skip
        finally:
            stop.set()
        burst_end = time.monotonic()
        recovered: float | None = None
        while time.monotonic() - burst_end < mode.recovery_limit:
            status, seconds, _ = rig.probe(client)
            if 200 <= status < 300 and seconds <= fast:
                recovered = time.monotonic() - burst_end
                break
        prober.join(timeout=35)
    s = load.summary
    up = rig.console.process.poll() is None
    refused = s.statuses.get(503, 0)
    others = {code: n for code, n in s.statuses.items() if not 200 <= code < 300 and code != 503}
    probe_503 = sorted(sec for status, sec, _ in samples if status == 503)
    probe_2xx = sorted(sec for status, sec, _ in samples if 200 <= status < 300)
    if refused:
        if probe_503:
            p99 = probe_503[min(len(probe_503) - 1, math.ceil(0.99 * len(probe_503)) - 1)] * 1000
            answer_time = f"503 answered in p99 {p99:.1f} ms ({len(probe_503)} probe samples)"
        else:
            p99 = s.ms("p99")
            answer_time = f"the probe saw no 503; all answers p99 {p99:.1f} ms"
        refusals = f"{refused:,} × 503 ({s.retry_after:,} with Retry-After), {answer_time}"
        fast_refusals = p99 <= 50.0 and s.retry_after == refused
    else:
        refusals = (
            f"no 503 seen: the console queued instead (answers p99 {s.ms('p99'):,.0f} ms, max {s.ms('max'):,.0f} ms)"
        )
        fast_refusals = False
    recovery = f"recovered {recovered:.2f} s after the burst" if recovered is not None else (
        f"not recovered {mode.recovery_limit:.0f} s after the burst"
    )  # fmt: skip
    return Row(
        measure=f"overload, {OVERLOAD_FACTOR:.0f}× what it sustains, {mode.overload_seconds} s",
        goal="stays up; 503 + Retry-After within 50 ms; recovers ≤ 1 s after",
        measured=f"{'up' if up else 'DOWN: the console exited'}; {refusals}; {recovery}; {s.acked_rate:,.0f}/s acked of {offered:,.0f}/s "
        f"offered, {s.errors['timeout']} timeouts, {s.unanswered} still waiting at the burst's end"
        + (f", other non-2xx {others}" if others else ""),
        met=up and fast_refusals and recovered is not None and recovered <= 1.0,
        note=f"offered = {OVERLOAD_FACTOR:.0f} × the throughput above; closed loop on a schedule, "
        f"{OVERLOAD_CONNECTIONS} connections (wrk delay()); a probe sends one delivery every 100 ms during the burst "
        f"({len(probe_2xx)} acked 2xx); recovered = the first fresh delivery acked within {fast * 1000:.0f} ms "
        f"(3 × idle p50, at least 15 ms), sent one after another from the burst's end; {rig.pinning}",
    )  # fmt: skip


def with_tabs(rig: Rig, mode: Mode, tabs: Tabs) -> Row:
    """The throughput load without tabs and with ``tabs`` open, alternating: without, then ``mode.tabs_pairs`` times
    with and without (quick: without, with). Each load with tabs is compared with the loads without on either side
    of it (quick: the one before), and the row gives the mean of those changes and each of them: one pair of loads
    on this machine moves by more than the goal allows (−14 % to +15 % for the same code), a drift of the machine
    over the minute is cancelled by the loads around it. Between two loads the tabs are taken off the console
    (``about:blank``) and loaded again."""
    assert rig.console is not None
    console = rig.console

    def run() -> Load:
        return rig.load(console, connections=CONNECTIONS, seconds=mode.tabs_seconds)

    if rig.tabs_error:
        raise RuntimeError(rig.tabs_error)
    limit = max(1.0, min(30.0, _seconds_left() - _tabs_need(mode)))
    settled = rig.settle(limit=limit)
    drained = f"first {settled:.1f} s until a delivery was acked fast" if settled is not None else (
        f"the console still had a backlog after {limit:.0f} s"
    )  # fmt: skip
    without, loaded, open_after = [run()], [], None
    for pair in range(mode.tabs_pairs):
        tabs.open(timeout=min(150.0, _seconds_left() - mode.tabs_seconds - 5))
        loaded.append(run())
        if pair == mode.tabs_pairs - 1:
            open_after = tabs.still_open()
        if mode is FULL:
            tabs.blank(timeout=60)
            without.append(run())
    tabs.close()
    changes: list[tuple[float, float]] = []  # (acked/s, p99) of each load with tabs against those around it
    for index, load in enumerate(loaded):
        around = without[index : index + 2]
        base_rate = Throughput.rate(around)
        base_p99 = sum(x.summary.ms("p99") for x in around) / len(around)
        if not base_rate or not base_p99:
            raise RuntimeError(f"no delivery answered without tabs in {mode.tabs_seconds} s: nothing to compare with")
        if load.summary.requests:
            changes.append((load.summary.acked_rate / base_rate - 1, load.summary.ms("p99") / base_p99 - 1))
        else:  # nothing answered: wrk has no latency to give
            changes.append((-1.0, math.inf))
    rate_change = sum(rate for rate, _ in changes) / len(changes)
    p99_change = sum(p99 for _, p99 in changes) / len(changes)
    if math.isfinite(p99_change):
        change = f"acked/s {rate_change:+.0%}, p99 {p99_change:+.0%}"
        if len(changes) > 1:
            change += " (mean of " + ", ".join(f"{rate:+.0%} / {p99:+.0%}" for rate, p99 in changes) + ")"
        with_figures = Throughput.brief(loaded)
    else:
        change = "acked/s -100 %: no delivery answered in a load with tabs"
        with_figures = ", ".join(f"{x.summary.unanswered} requests sent" for x in loaded)
    loads = len(without) + len(loaded)
    return Row(
        measure=f"ingest with {tabs.count} tabs open on Inbox, Runs and Overview",
        goal="figures change < 10 %",
        measured=f"{change} (without tabs {Throughput.brief(without)}; with tabs {with_figures})",
        met=rate_change > -0.10 and p99_change < 0.10 and open_after == tabs.count,
        note=f"{CONNECTIONS} connections, {loads} loads of {mode.tabs_seconds} s ({drained}), "
        + (
            f"without and with alternating, each with tabs against the two around it ({len(loaded)} pairs); the tabs "
            "taken to about:blank and loaded again between loads"
            if mode is FULL
            else "without, then with"
        )
        + "; headless Chromium (Playwright), "
        + (f"{open_after}/{tabs.count} tabs still open after the last load; " if open_after is not None else "")
        + ("the browser did not answer within 30 s after the load; " if open_after is None else "")
        + (f"{rig.pinning}, the browser too once its tabs had loaded" if rig.server_cpus else rig.pinning)
        + _problems([*without, *loaded]),
    )


def _tabs_need(mode: Mode) -> float:
    """Seconds the tabs' measure takes, about: its loads, and loading the tabs (a loaded machine opens 10 tabs
    slowly) and taking them off the console between loads."""
    loads = 1 + mode.tabs_pairs * (2 if mode is FULL else 1)
    return loads * mode.tabs_seconds + 15 * mode.tabs_pairs + 8


def _problems(loads: list[Load]) -> str:
    """A note on answers other than 2xx, requests without answer, or deliveries repeated (empty: none)."""
    non2xx = sum(x.summary.non2xx for x in loads)
    lost = sum(x.summary.socket_errors for x in loads)
    repeated = sum(x.summary.exhausted for x in loads)
    parts = [f"{non2xx} non-2xx" if non2xx else "", f"{lost} without answer" if lost else ""]
    parts.append(f"ran out of pre-signed deliveries {repeated} times (repeats)" if repeated else "")
    found = [part for part in parts if part]
    return "; ATTENTION: " + ", ".join(found) if found else ""


# --- the module's entry points --------------------------------------------------------------------


def measure(*, quick: bool, pin: bool = True, keep: bool = False) -> list[Row]:
    """The four ingest rows of the benchmark table (issue 10). A measure that fails, or that would not fit in the
    time ``BENCH_DEADLINE`` leaves (``make bench-quick`` sets it), is a row with ``met=None`` and the reason; a rig
    that does not start makes all four such rows."""
    mode = QUICK if quick else FULL
    names = ("ingest throughput", "500 deliveries/s", "overload", f"ingest with {TABS} tabs")
    needs = (  # seconds each measure takes at most, about (the tabs: a loaded machine opens 10 tabs slowly)
        2 * mode.warmup_seconds + 2 * mode.throughput_rounds * mode.throughput_seconds + 8,
        2 * mode.sustained_seconds + 6,
        mode.overload_seconds + mode.recovery_limit + 6,
        _tabs_need(mode),
    )
    rows: list[Row] = []
    try:
        with Rig.running(pin=pin, keep=keep, with_tabs=True) as rig:
            assert rig.tabs is not None
            tabs = rig.tabs
            capacity = SUSTAINED_RATE
            steps: list[Callable[[], tuple[Row, Any]]] = [
                lambda: throughput(rig, mode),
                lambda: (sustained(rig, mode), capacity),
                lambda: (overload(rig, mode, capacity), capacity),
                lambda: (with_tabs(rig, mode, tabs), capacity),
            ]
            for name, need, step in zip(names, needs, steps, strict=True):
                left = _seconds_left()
                if left < need:
                    reason = f"skipped: {left:.0f} s of the time budget left, it needs about {need:.0f} s"
                    rows.append(Row(name, "", "", None, reason))
                    continue
                row, capacity = _guarded(name, step, fallback=capacity)
                rows.append(row)
    except Exception as exc:  # the servers did not start: every row says why
        traceback.print_exc()
        reason = f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}"
        return [*rows, *(Row(name, "", "", None, reason) for name in names[len(rows) :])]
    return rows


def _seconds_left() -> float:
    """Seconds until ``BENCH_DEADLINE`` (Unix time, set by ``bench/run_all.py`` in quick mode); inf without it."""
    deadline = os.environ.get("BENCH_DEADLINE")
    return float(deadline) - time.time() if deadline else math.inf


def _guarded(name: str, run: Callable[[], tuple[Row, Any]], *, fallback: Any) -> tuple[Row, Any]:
    """``run()``, or a ``met=None`` row with the error and ``fallback`` when it raises."""
    started = time.monotonic()
    try:
        result = run()
    except Exception as exc:  # a bug or a failure of one measure must not cost the others their rows
        traceback.print_exc()
        reason = f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}"
        return Row(name, "", "", None, reason), fallback
    print(f"ingest: {name}: {time.monotonic() - started:.1f} s", file=sys.stderr, flush=True)
    return result


def machine() -> str:
    """One line: CPUs this process may use, CPU model, RAM, kernel, Python, SQLite."""
    cpus = len(os.sched_getaffinity(0))
    model = "unknown CPU"
    with contextlib.suppress(OSError):
        match = re.search(r"^model name\s*:\s*(.+)$", Path("/proc/cpuinfo").read_text(), re.MULTILINE)
        model = match.group(1).strip() if match else model
    ram = "unknown RAM"
    with contextlib.suppress(OSError):
        match = re.search(r"^MemTotal:\s+(\d+) kB", Path("/proc/meminfo").read_text(), re.MULTILINE)
        ram = f"{int(match.group(1)) / 1024**2:.1f} GiB RAM" if match else ram
    return (
        f"Machine: {cpus} CPUs ({model}), {ram}, {platform.system()} {platform.release()}, "
        f"Python {platform.python_version()}, SQLite {sqlite3.sqlite_version}; "
        "load generators and servers on the same host, over 127.0.0.1."
    )


def _terminate(_signum: int, _frame: FrameType | None) -> None:
    raise KeyboardInterrupt


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--quick", action="store_true", help="short runs (make bench-quick)")
    parser.add_argument("--no-pin", action="store_true", help="do not pin servers and load to separate CPUs")
    parser.add_argument("--keep", action="store_true", help="keep the temporary folder (logs, databases)")
    args = parser.parse_args(argv)
    signal.signal(signal.SIGTERM, _terminate)
    rows = measure(quick=args.quick, pin=not args.no_pin, keep=args.keep)
    print(markdown(rows))
    print()
    print(machine())
    return 0


if __name__ == "__main__":
    sys.exit(main())
