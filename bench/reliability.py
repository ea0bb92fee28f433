"""Reliability under faults: nothing lost, nothing applied twice, every run completes.

Run from the repository root::

    .venv/bin/python bench/reliability.py            # full mode, the README figures (several minutes)
    .venv/bin/python bench/reliability.py --quick    # scaled down, well under a minute (make test runs it)

It starts the standalone simulator (``python -m app.simulator``, its own process, which keeps its runs in
memory while the console dies) and the console (``python -m app``, sign-in off, pointed at the simulator)
in a temporary folder with one SQLite file, then plays three scenarios against them:

1. **Deliveries**: signed run statuses POSTed straight to the console's webhook with httpx, 32 in flight:
   a share sent twice with the same ``webhook-id`` (half of those copies at the same moment as the first,
   the others later), a share swapped with the task's next status. A delivery answered non-2xx is sent
   again, as the platform would. Then the console's database must hold every ``webhook-id`` once as
   ``applied`` or ``history``, no (task, sequence) applied twice, every copy as ``duplicate``, and every run
   at its newest status.
2. **kill -9**: runs of the demo agents (Clock, Trip planner, Weather compare) are started through the
   console's API in batches; the demo handlers (``fixtures/handlers``, latency removed) answer every round
   in auto mode. After each batch the console gets ``SIGKILL`` at a random moment, is reaped, and is started
   again on the same database file. The simulator meanwhile duplicates, reorders and drops some webhook
   deliveries. At the end every run must be ``completed`` on the simulator and no round may have had its
   tool responses applied twice (``GET /_control/stats``; a repeat with the same ``Idempotency-Key`` is
   answered again without being applied, and is counted apart).
3. **Platform down**: runs are started (their deliveries delayed 1 s each, so their rounds arrive later),
   then the simulator refuses connections for a while (``down_for``) as the handlers answer the rounds; the
   outbox must retry each submission until it lands, with the same ``Idempotency-Key``: every run completes,
   every round is applied exactly once and the console has exactly one submission per round.

It prints a Markdown table ``| scenario | must hold | measured |`` and the machine, and exits 1 when
something does not hold (``--keep`` keeps the folder with both logs and the database).
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import random
import secrets
import shutil
import signal
import sqlite3
import sys
import tempfile
import time
import traceback
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import httpx
from ingest import PYTHON, ROOT, WEBHOOK_PATH, Server, clean_env, free_port, machine, signed_headers
from ingest import Delivery as SignedBody
from standardwebhooks.webhooks import Webhook

API_KEY = "reliability-key"
UNKNOWN_AGENT = "5f0c6b2e-8a4d-4c1e-9a57-2b3f3c4d5e6f"  # the deliveries scenario's agent: no handlers
RUN_AGENTS = ("Clock", "Trip planner", "Weather compare")  # their demo handlers never answer is_error
HANDLERS_DIR = ROOT / "fixtures" / "handlers"
SIM_RETRY_SCHEDULE = "0.5,1,2,4,8,15,30,60,60"  # a real platform retries for hours; the default 18 s is short
STATUSES = ("queued", "running", "awaiting_tool_calls", "running", "completed")


@dataclass(frozen=True)
class Mode:
    deliveries: int
    duplicate: float
    reorder: float
    runs: int
    kills: int
    down_runs: int
    down_seconds: float
    settle_seconds: float  # how long runs may take to finish after the last fault
    kill_after: tuple[float, float]  # seconds between a console's start and its kill: uniform in this range


FULL = Mode(10_000, 0.3, 0.2, 500, 25, 60, 60.0, 300.0, (0.5, 4.0))
QUICK = Mode(500, 0.3, 0.2, 30, 3, 10, 3.0, 60.0, (0.3, 1.5))


@dataclass
class Row:
    scenario: str
    must_hold: str
    measured: str
    held: bool


@dataclass
class Rig:
    """The simulator and the console, each its own process, on free loopback ports; one database file."""

    workdir: Path
    secret: str
    sim_port: int
    console_port: int
    sim: Server | None = None
    console: Server | None = None
    restarts: int = 0
    restart_seconds: list[float] = field(default_factory=list)
    logs: list[Path] = field(default_factory=list)

    @property
    def db(self) -> Path:
        return self.workdir / "console.db"

    @property
    def sim_url(self) -> str:
        return f"http://127.0.0.1:{self.sim_port}"

    @property
    def console_url(self) -> str:
        return f"http://127.0.0.1:{self.console_port}"

    def start_sim(self) -> None:
        command = [
            *(PYTHON, "-m", "app.simulator", "--port", str(self.sim_port), "--api-key", API_KEY),
            *("--webhook-url", self.console_url + WEBHOOK_PATH, "--secret", self.secret),
            *("--retry-schedule", SIM_RETRY_SCHEDULE, "--log-level", "warning"),
        ]
        self.sim = Server.start("simulator", command, cwd=self.workdir, env=self._env(), port=self.sim_port)
        self.sim.wait_ready("/v1/agents", expect=401)

    def start_console(self) -> None:
        env = self._env(
            TOOLDESK_DATABASE_URL=f"sqlite:///{self.db}",
            TOOLDESK_PLATFORM_URL=self.sim_url,
            TOOLDESK_PLATFORM_API_KEY=API_KEY,
            TOOLDESK_WEBHOOK_SECRET=self.secret,
            TOOLDESK_PUBLIC_URL=self.console_url,
            TOOLDESK_AUTH="off",
        )
        name = f"console-{self.restarts}"
        command = [PYTHON, "-m", "app", "--port", str(self.console_port)]
        self.console = Server.start(name, command, cwd=self.workdir, env=env, port=self.console_port)
        began = time.monotonic()
        self.console.wait_ready("/api/runs?per_page=1", expect=200)
        if self.restarts:
            self.restart_seconds.append(time.monotonic() - began)

    def kill_console(self) -> None:
        """SIGKILL, then reap it, so the next console starts only once this one is gone (one per file)."""
        assert self.console is not None
        self.console.process.send_signal(signal.SIGKILL)
        self.console.process.wait()
        self.restarts += 1

    def stop(self) -> None:
        for server in (self.console, self.sim):
            if server is not None:
                server.stop()

    def _env(self, **extra: str) -> dict[str, str]:
        return clean_env(PYTHONPATH=str(ROOT), **extra)

    def sim_client(self) -> httpx.AsyncClient:
        auth = {"Authorization": f"Bearer {API_KEY}"}
        return httpx.AsyncClient(base_url=self.sim_url, headers=auth, timeout=30.0, trust_env=False)

    def query(self, sql: str, *params: Any) -> list[tuple[Any, ...]]:
        with sqlite3.connect(f"file:{self.db}?mode=ro", uri=True, timeout=30) as connection:
            return connection.execute(sql, params).fetchall()


# --- 1. deliveries -------------------------------------------------------------------------------


def status_body(task_id: int, stage: int) -> bytes:
    body: dict[str, Any] = {
        "agent_id": UNKNOWN_AGENT, "task_id": task_id, "status": STATUSES[stage], "sequence": stage + 1,
        "round": 1 if stage >= 2 else None, "result": "done" if stage == 4 else None, "error": None,
        "environment": "playground",
    }  # fmt: skip
    if stage == 2:
        body["tool_calls"] = [{"id": f"call_{task_id}", "name": "lookup", "arguments": {"task": task_id}}]
        body["expires_at"] = "2099-01-01T00:00:00Z"
    return json.dumps(body).encode()


@dataclass
class DeliveryPlan:
    """What to send, in order: each job is one delivery, or a pair of copies sent at the same moment."""

    jobs: list[list[SignedBody]]
    ids: dict[str, tuple[int, int]]  # webhook-id -> (task_id, sequence)
    copies: int
    concurrent: int
    reordered: int
    tasks: list[int]


def plan_deliveries(count: int, duplicate: float, reorder: float, rng: random.Random) -> DeliveryPlan:
    stages = len(STATUSES)
    first = 7_000_001
    tasks = list(range(first, first + count // stages))
    slots = sorted(((t, s) for t in range(len(tasks)) for s in range(stages)), key=lambda ts: ts[0] + ts[1] * 24)
    position = {slot: index for index, slot in enumerate(slots)}
    order: list[tuple[int, int] | None] = list(slots)
    reordered = 0
    for index in range(len(tasks)):  # swap a status with the task's next one: the later sequence goes first
        for stage in range(stages - 1):
            if rng.random() < reorder and order[position[(index, stage)]] == (index, stage):
                a, b = position[(index, stage)], position[(index, stage + 1)]
                order[a], order[b] = order[b], order[a]
                reordered += 1
    deliveries = []
    ids: dict[str, tuple[int, int]] = {}
    for slot in order:
        assert slot is not None
        index, stage = slot
        delivery = SignedBody(webhook_id="msg_" + secrets.token_hex(12), body=status_body(tasks[index], stage))
        ids[delivery.webhook_id] = (tasks[index], stage + 1)
        deliveries.append(delivery)
    jobs: list[list[SignedBody]] = [[d] for d in deliveries]
    copies = concurrent = 0
    later: list[tuple[int, SignedBody]] = []
    for index, delivery in enumerate(deliveries):
        if rng.random() >= duplicate:
            continue
        copies += 1
        if rng.random() < 0.5:
            jobs[index].append(delivery)
            concurrent += 1
        else:
            later.append((index + rng.randint(1, 200), delivery))
    for at, delivery in sorted(later, key=lambda item: item[0], reverse=True):
        jobs.insert(min(at + 1, len(jobs)), [delivery])
    return DeliveryPlan(jobs, ids, copies, concurrent, reordered, tasks)


async def send_deliveries(rig: Rig, plan: DeliveryPlan) -> Counter[str]:
    """Send every job with 32 in flight; a non-2xx or failed POST is sent again (up to 20 times)."""
    webhook = Webhook(rig.secret)
    answers: Counter[str] = Counter()
    jobs = iter(plan.jobs)

    async def post(client: httpx.AsyncClient, delivery: SignedBody) -> None:
        for attempt in range(20):
            try:
                response = await client.post(
                    WEBHOOK_PATH, content=delivery.body, headers=signed_headers(webhook, delivery)
                )
                answers[str(response.status_code)] += 1
                if 200 <= response.status_code < 300:
                    return
            except httpx.HTTPError as exc:
                answers[type(exc).__name__] += 1
            await asyncio.sleep(0.2 * (attempt + 1))
        answers["given up"] += 1

    async def worker() -> None:
        async with httpx.AsyncClient(base_url=rig.console_url, timeout=30.0, trust_env=False) as client:
            for job in jobs:
                await asyncio.gather(*(post(client, delivery) for delivery in job))

    await asyncio.gather(*(worker() for _ in range(32)))
    return answers


async def scenario_deliveries(rig: Rig, mode: Mode, rng: random.Random) -> Row:
    plan = plan_deliveries(mode.deliveries, mode.duplicate, mode.reorder, rng)
    started = time.monotonic()
    answers = await send_deliveries(rig, plan)
    seconds = time.monotonic() - started
    placeholders = ",".join("?" * len(plan.tasks))
    rows = rig.query(
        f"SELECT webhook_id, verdict, task_id, sequence FROM delivery WHERE task_id IN ({placeholders})", *plan.tasks
    )
    kept = Counter(wid for wid, verdict, _t, _s in rows if verdict in ("applied", "history"))
    lost = sum(1 for wid in plan.ids if kept[wid] == 0)
    stored_twice = sum(1 for times in kept.values() if times > 1)
    applied = Counter((t, s) for _w, verdict, t, s in rows if verdict == "applied")
    applied_twice = sum(1 for times in applied.values() if times > 1)
    verdicts = Counter(verdict for _w, verdict, _t, _s in rows)
    newest = rig.query(
        f"SELECT count(*) FROM run WHERE task_id IN ({placeholders}) AND sequence = ? AND status = 'completed'",
        *plan.tasks,
        len(STATUSES),
    )[0][0]
    held = lost == 0 and stored_twice == 0 and applied_twice == 0 and newest == len(plan.tasks)
    held = held and verdicts["duplicate"] >= plan.copies
    failed = Counter({answer: n for answer, n in answers.items() if not answer.startswith("2")})
    retried = ", ".join(f"{n} {answer}" for answer, n in failed.most_common()) or "none"
    return Row(
        scenario=f"{len(plan.ids):,} deliveries ({len(plan.tasks):,} runs), {plan.copies:,} sent twice "
        f"({plan.concurrent:,} concurrently), {plan.reordered:,} swapped with the next",
        must_hold="0 lost, 0 applied twice",
        measured=f"{lost} lost, {applied_twice + stored_twice} applied twice; {verdicts['applied']:,} applied, "
        f"{verdicts['history']:,} history, {verdicts['duplicate']:,} duplicate; {newest:,}/{len(plan.tasks):,} "
        f"runs at their newest status; answers not 2xx, sent again: {retried}; {seconds:.0f} s",
        held=held,
    )


# --- 2. kill -9 ----------------------------------------------------------------------------------


async def install_handlers(rig: Rig) -> list[tuple[str, dict[str, str]]]:
    """Save the demo handlers in auto mode without latency; returns (agent_id, default inputs) per run agent."""
    async with rig.sim_client() as sim:
        agents = {a["name"]: a for a in (await sim.get("/v1/agents")).json()}
    wanted = {agents[name]["agent_id"] for name in RUN_AGENTS}
    async with httpx.AsyncClient(base_url=rig.console_url, timeout=30.0, trust_env=False) as console:
        for path in sorted(HANDLERS_DIR.glob("*.json")):
            for handler in json.loads(path.read_text("utf-8")):
                if handler["agent_id"] in wanted:
                    saved = await console.post("/api/handlers", json={**handler, "mode": "auto", "behaviour": {}})
                    saved.raise_for_status()
    return [
        (agents[name]["agent_id"], {i["key"]: i.get("default", "") for i in agents[name].get("inputs", [])})
        for name in RUN_AGENTS
    ]


@dataclass
class Starts:
    task_ids: list[int] = field(default_factory=list)
    cut: Counter[str] = field(default_factory=Counter)  # no answer (by exception): the run may have started


async def start_runs(rig: Rig, agents: list[tuple[str, dict[str, str]]], count: int, starts: Starts) -> None:
    """Start ``count`` runs through the console, 4 at a time; a refused connection (the console is down) is
    tried again, an answer cut off is not (the platform may have started it)."""
    pending = iter(range(count))

    async def worker() -> None:
        async with httpx.AsyncClient(base_url=rig.console_url, timeout=30.0, trust_env=False) as client:
            for number in pending:
                agent_id, inputs = agents[number % len(agents)]
                while True:
                    try:
                        reply = await client.post(f"/api/agents/{agent_id}/runs", json={"string_inputs": inputs})
                    except httpx.ConnectError:
                        await asyncio.sleep(0.3)
                        continue
                    except httpx.TransportError as exc:
                        starts.cut[type(exc).__name__] += 1
                        break
                    if reply.status_code == 202:
                        starts.task_ids.append(int(reply.json()["task_id"]))
                        break
                    await asyncio.sleep(0.3)  # 5xx while starting up or shutting down: try again

    await asyncio.gather(*(worker() for _ in range(4)))


async def settle(rig: Rig, seconds: float, done: Callable[[dict[str, Any]], bool]) -> dict[str, Any]:
    """Poll the simulator's stats every second until ``done(stats)`` or ``seconds`` passed; the last stats."""
    deadline = time.monotonic() + seconds
    async with rig.sim_client() as sim:
        stats: dict[str, Any] = {}
        while True:
            try:
                stats = (await sim.get("/_control/stats")).json()
            except httpx.TransportError:
                pass  # the simulator is down on purpose
            else:
                if done(stats):
                    return stats
            if stats and time.monotonic() > deadline:
                return stats
            await asyncio.sleep(1.0)


def all_completed(stats: dict[str, Any]) -> bool:
    return stats["runs"].get("completed", 0) == stats["runs_started"]


async def scenario_kills(rig: Rig, mode: Mode, rng: random.Random) -> Row:
    agents = await install_handlers(rig)
    async with rig.sim_client() as sim:
        faults = {"duplicate": 0.1, "reorder": 0.1, "drop": 0.05, "reorder_hold": 1.0, "seed": rng.randint(1, 10**6)}
        (await sim.post("/_control/faults", json=faults)).raise_for_status()
    async with rig.sim_client() as sim:
        runs_before = (await sim.get("/_control/stats")).json()["runs_started"]
    starts = Starts()
    batch = mode.runs // mode.kills
    started = time.monotonic()
    starters: list[asyncio.Task[None]] = []
    for kill in range(mode.kills):
        count = batch if kill < mode.kills - 1 else mode.runs - batch * (mode.kills - 1)
        starters.append(asyncio.create_task(start_runs(rig, agents, count, starts)))
        await asyncio.sleep(rng.uniform(*mode.kill_after))
        rig.kill_console()
        await asyncio.to_thread(rig.start_console)
    await asyncio.gather(*starters)
    async with rig.sim_client() as sim:
        reached = (await sim.get("/_control/stats")).json()["runs_started"] - runs_before
    if reached < mode.runs:  # starts cut off by a kill before the console asked the platform: ask again
        await start_runs(rig, agents, mode.runs - reached, starts)
    stats = await settle(rig, mode.settle_seconds, all_completed)
    seconds = time.monotonic() - started
    async with rig.sim_client() as sim:
        (await sim.post("/_control/faults", json={"duplicate": 0, "reorder": 0, "drop": 0})).raise_for_status()
    completed, total = stats["runs"].get("completed", 0), stats["runs_started"]
    twice = len(stats["rounds_applied_twice"])
    responses = stats["tool_responses"]
    console_done = await console_completed(rig, [agent_id for agent_id, _inputs in agents], stats["runs_started"])
    cut = ", ".join(f"{n} {name}" for name, n in starts.cut.most_common()) or "none"
    cut = f"start requests left without an answer: {cut}"
    restart = sum(rig.restart_seconds) / max(1, len(rig.restart_seconds))
    held = completed == total == console_done and twice == 0 and total - runs_before == mode.runs
    return Row(
        scenario=f"{mode.kills} × `kill -9` of the console during {mode.runs} auto-answered runs (webhooks: 10 % "
        "duplicated, 10 % reordered, 5 % first attempt dropped)",
        must_hold="every run completes; no round answered twice",
        measured=f"{completed}/{total} runs completed ({console_done} on the console); {twice} rounds applied "
        f"twice; {stats['rounds_applied']} rounds applied, {responses['replayed']} repeats of an idempotency key "
        f"answered without applying; {cut} (asked again when the platform had not got them); restarts took {restart:.1f} s on average; {seconds:.0f} s",
        held=held,
    )


async def console_completed(rig: Rig, agent_ids: list[str], expected: int, seconds: float = 90.0) -> int:
    """Completed runs of ``agent_ids`` in the console's database, polled until ``expected`` (a run's last
    delivery may still be in the simulator's retry schedule) or ``seconds`` passed."""
    placeholders = ",".join("?" * len(agent_ids))
    sql = f"SELECT count(*) FROM run WHERE status = 'completed' AND agent_id IN ({placeholders})"
    for _ in range(int(seconds)):
        if (done := int(rig.query(sql, *agent_ids)[0][0])) >= expected:
            return done
        await asyncio.sleep(1.0)
    return int(rig.query(sql, *agent_ids)[0][0])


# --- 3. platform down ----------------------------------------------------------------------------


async def scenario_down(rig: Rig, mode: Mode, agents: list[tuple[str, dict[str, str]]]) -> Row:
    async with rig.sim_client() as sim:
        (await sim.post("/_control/faults", json={"delay": 1.0, "delay_seconds": 1.0})).raise_for_status()
        starts = Starts()
        await start_runs(rig, agents, mode.down_runs, starts)
        body = {"down_for": mode.down_seconds, "delay": 0.0}
        (await sim.post("/_control/faults", json=body)).raise_for_status()
    started = time.monotonic()
    stats = await settle(rig, mode.down_seconds + mode.settle_seconds, all_completed)
    seconds = time.monotonic() - started
    placeholders = ",".join("?" * len(starts.task_ids))
    outbox = rig.query(
        f"SELECT task_id, state, attempts FROM outbox WHERE task_id IN ({placeholders})", *starts.task_ids
    )
    async with rig.sim_client() as sim:
        received = (await sim.get("/_control/received")).json()
    ours = set(starts.task_ids)
    applied = Counter((r["task_id"], r["round"]) for r in received if r["task_id"] in ours)
    sent = sum(1 for _t, state, _a in outbox if state == "sent")
    retried = sum(1 for _t, _s, attempts in outbox if attempts > 1)
    most = max((attempts for _t, _s, attempts in outbox), default=0)
    completed, total = stats["runs"].get("completed", 0), stats["runs_started"]
    once = sum(1 for times in applied.values() if times == 1)
    held = (
        completed == total
        and len(outbox) == sent == len(applied) == once
        and all(times == 1 for times in applied.values())
        and retried > 0
    )
    return Row(
        scenario=f"the platform down (connections refused) for {mode.down_seconds:g} s while the rounds of "
        f"{mode.down_runs} runs are answered",
        must_hold="every submission lands exactly once",
        measured=f"{len(outbox)} submissions, {sent} sent, {once} applied once, "
        f"{sum(1 for t in applied.values() if t > 1)} twice; {retried} retried through the outage (up to "
        f"{most} attempts); all runs completed: {completed == total}; {seconds:.0f} s after the outage began",
        held=held,
    )


# --- main ----------------------------------------------------------------------------------------


def table(rows: list[Row]) -> str:
    lines = ["| scenario | must hold | measured |", "|---|---|---|"]
    lines += [
        f"| {r.scenario} | {r.must_hold} | {r.measured}{'' if r.held else ' **(does not hold)**'} |" for r in rows
    ]
    return "\n".join(lines)


async def play(rig: Rig, mode: Mode, rng: random.Random, rows: list[Row], say: Callable[[str], None]) -> None:
    steps: list[tuple[str, Callable[[], Awaitable[Row]]]] = [
        ("deliveries", lambda: scenario_deliveries(rig, mode, rng)),
        ("kill -9", lambda: scenario_kills(rig, mode, rng)),
    ]
    for name, step in steps:
        say(f"{name} ...")
        rows.append(await step())
        say(f"  {rows[-1].measured}")
    say("platform down ...")
    agents = await install_handlers(rig)
    rows.append(await scenario_down(rig, mode, agents))
    say(f"  {rows[-1].measured}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--quick", action="store_true", help="the scaled-down run that make test does")
    parser.add_argument("--seed", type=int, default=8, help="random seed (deliveries, kill moments, faults)")
    parser.add_argument("--keep", action="store_true", help="keep the temporary folder (logs, database)")
    args = parser.parse_args(argv)
    mode = QUICK if args.quick else FULL
    rng = random.Random(args.seed)

    def say(text: str) -> None:
        print(text, file=sys.stderr, flush=True)

    workdir = Path(tempfile.mkdtemp(prefix="tooldesk-reliability-"))
    secret = "whsec_" + base64.b64encode(secrets.token_bytes(24)).decode()
    rig = Rig(workdir=workdir, secret=secret, sim_port=free_port(), console_port=free_port())
    rows: list[Row] = []
    failed = False
    try:
        rig.start_sim()
        rig.start_console()
        asyncio.run(play(rig, mode, rng, rows, say))
    except Exception:
        failed = True
        traceback.print_exc()
    finally:
        rig.stop()
    print()
    print(table(rows))
    print()
    print(machine())
    failed = failed or len(rows) < 3 or not all(row.held for row in rows)
    if args.keep or failed:
        say(f"\nLogs and database kept in {workdir}")
    else:
        shutil.rmtree(workdir, ignore_errors=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
