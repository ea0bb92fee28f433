"""Auto round trip: from a round opening to the platform acknowledging the handlers' answers.

Run from the repository root::

    .venv/bin/python bench/roundtrip.py [--quick] [--runs 60] [--keep]

What it does:

1. starts the real console (``python -m app``) in a temporary folder with its own SQLite file, sign-in off (on
   loopback), its embedded simulator pacing runs with no delay between state changes (``TOOLDESK_STEP_DELAY=0``);
2. for each handler kind (static, rules, python) saves a handler of that kind in auto mode for every tool of the
   demo agents Clock, Trip planner and Weather compare (no latency or faults set), starts a few runs that are not
   measured (the first Python call may still be warming the sandbox), then ``--runs`` runs one after another,
   each started through ``POST /api/agents/{id}/runs`` once the previous one completed;
3. reads the simulator's ``GET /sim/_control/round_trips``: for every answered round, the milliseconds from the
   moment the simulator starts POSTing its ``awaiting_tool_calls`` delivery to the moment it accepts the round's
   ``send_tool_responses`` (``app.simulator.timing``; one process, one clock);
4. prints one row per kind: p50 against the goal (static and rules ≤ 5 ms, python ≤ 10 ms), p95 in the note.

Runs go one at a time, so a figure is the path's own latency, not a queue's. The console is a separate process;
this one only starts runs and waits, polling the run's status every 50 ms. Python runs start ``PYTHON_PAUSE``
seconds after the previous one ended: each Python call takes a fresh sandbox worker (a call never reuses one), and
its replacement takes about 0.4 s of CPU to start, so back to back, runs of up to three calls each would measure
the workers' start-up queue rather than the round trip with a warm worker; static and rules runs go back to back.
``--pause`` sets one pause for every kind.
"""

from __future__ import annotations

import argparse
import asyncio
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import httpx
from ingest import Server, clean_env, free_port
from table import Row, markdown

ROOT = Path(__file__).resolve().parent.parent
PYTHON = sys.executable
API_KEY = "sim_bench_roundtrip"
AGENTS = ("Clock", "Trip planner", "Weather compare")
KINDS = ("static", "rules", "python")
GOALS_MS = {"static": 5.0, "rules": 5.0, "python": 10.0}
WARMUP_RUNS = 3
PYTHON_PAUSE = 1.0
"""Seconds between Python runs: time for the sandbox to replace the workers the previous run used (about 0.4 s of
CPU each; the console keeps ``TOOLDESK_SANDBOX_WORKERS``, 4, warm)."""
PYTHON_QUICK_RUNS = 9
RUN_SECONDS = 30.0
POLL_SECONDS = 0.05
SPECS: dict[str, dict[str, Any]] = {
    "static": {"output": "ok", "is_error": False},
    "rules": {
        "rules": [
            {
                "name": "rainy cities",
                "when": [{"kind": "regex", "path": "city", "value": "(?i)^(bergen|london|dublin|glasgow)$"}],
                "response": {"output": "Light rain, {{ fake.random_int(6, 12) }} °C", "is_error": False},
            }
        ],
        "default": {"output": "Sunny, {{ fake.random_int(18, 27) }} °C", "is_error": False},
    },
    "python": {
        "code": 'async def handle(args: dict, agent_id: str, task_id: int) -> str:\n    return f"ok {task_id}"\n'
    },
}


def measure(
    *,
    quick: bool,
    runs: int | None = None,
    keep: bool = False,
    code: Path = ROOT,
    kinds: tuple[str, ...] = KINDS,
    pause: float | None = None,
    database_url: str = "",
) -> list[Row]:
    """One row per handler kind: p50 of the auto round trip against its goal, p95 and the count in the note.
    ``code``: the checkout the console runs from (another one, for a side-by-side comparison); ``pause``: seconds
    between one run's end and the next one's start for every kind (``None``: ``PYTHON_PAUSE`` for Python, back to
    back for the others); ``database_url``: the console's database (default: a SQLite file, as ``make run``)."""
    count = runs if runs is not None else (15 if quick else 60)
    plan = {
        kind: (
            min(count, PYTHON_QUICK_RUNS) if kind == "python" and quick and runs is None else count,
            pause if pause is not None else (PYTHON_PAUSE if kind == "python" else 0.0),
        )
        for kind in kinds
    }
    return asyncio.run(_measure(plan, keep=keep, code=code, database_url=database_url))


async def _measure(plan: dict[str, tuple[int, float]], *, keep: bool, code: Path, database_url: str = "") -> list[Row]:
    """``plan``: per handler kind, the runs measured and the seconds between them; ``database_url``: the console's
    database (default: a SQLite file in a temporary folder, as ``make run`` makes)."""
    workdir = Path(tempfile.mkdtemp(prefix="tooldesk-roundtrip-"))
    port = free_port()
    env = clean_env(
        PYTHONPATH=str(code),
        TOOLDESK_DATABASE_URL=database_url or f"sqlite:///{workdir / 'console.db'}",
        TOOLDESK_PLATFORM_API_KEY=API_KEY,
        TOOLDESK_AUTH="off",
        TOOLDESK_STEP_DELAY="0",
    )
    console = Server.start("console", [PYTHON, "-m", "app", "--port", str(port)], cwd=workdir, env=env, port=port)
    try:
        console.wait_ready("/api/runs?per_page=1", expect=200)
        print(f"console pid {console.process.pid} on port {port}, folder {workdir}", file=sys.stderr)
        async with httpx.AsyncClient(base_url=console.base_url, timeout=30.0, trust_env=False) as http:
            agents = await _agents(http)
            times: dict[str, list[float]] = {}
            cpu: dict[str, float] = {}
            for kind, (runs, pause) in plan.items():
                await _save_handlers(http, agents, kind)
                await _play(http, agents, WARMUP_RUNS, pause)
                before = console.cpu_seconds()
                task_ids = await _play(http, agents, runs, pause)
                cpu[kind] = console.cpu_seconds() - before
                trips = (await http.get("/sim/_control/round_trips", headers=_sim_auth())).json()
                times[kind] = [trip["ms"] for trip in trips if trip["task_id"] in task_ids]
        return [_row(kind, times[kind], cpu[kind], plan[kind][1]) for kind in plan]
    finally:
        console.stop()
        if not keep:
            shutil.rmtree(workdir, ignore_errors=True)


def _sim_auth() -> dict[str, str]:
    return {"Authorization": f"Bearer {API_KEY}"}


async def _agents(http: httpx.AsyncClient) -> list[dict[str, Any]]:
    listed = {agent["name"]: agent for agent in (await http.get("/sim/v1/agents", headers=_sim_auth())).json()}
    return [listed[name] for name in AGENTS]


async def _save_handlers(http: httpx.AsyncClient, agents: list[dict[str, Any]], kind: str) -> None:
    """A ``kind`` handler in auto mode, with no latency, for every tool of ``agents``."""
    for agent in agents:
        for tool in agent["tools"]:
            handler = {"agent_id": agent["agent_id"], "tool_name": tool["name"], "kind": kind, "mode": "auto"}
            saved = await http.post("/api/handlers", json={**handler, "spec": SPECS[kind], "behaviour": {}})
            saved.raise_for_status()


async def _play(http: httpx.AsyncClient, agents: list[dict[str, Any]], runs: int, pause: float = 0.0) -> set[int]:
    """Start ``runs`` runs, cycling through ``agents``, each ``pause`` seconds after the previous one ended; their
    task_ids."""
    started: set[int] = set()
    for number in range(runs):
        agent = agents[number % len(agents)]
        inputs = {item["key"]: item.get("default", "") for item in agent.get("inputs", [])}
        reply = await http.post(f"/api/agents/{agent['agent_id']}/runs", json={"string_inputs": inputs})
        reply.raise_for_status()
        task_id = int(reply.json()["task_id"])
        started.add(task_id)
        await _wait_ended(http, agent["agent_id"], task_id)
        await asyncio.sleep(pause)
    return started


async def _wait_ended(http: httpx.AsyncClient, agent_id: str, task_id: int) -> None:
    deadline = time.monotonic() + RUN_SECONDS
    while time.monotonic() < deadline:
        status = (await http.get(f"/sim/v1/agents/{agent_id}/runs/{task_id}", headers=_sim_auth())).json()
        if status["status"] in {"completed", "failed", "cancelled", "expired"}:
            if status["status"] != "completed":
                raise RuntimeError(f"task {task_id} ended {status['status']}: {status.get('error')}")
            return
        await asyncio.sleep(POLL_SECONDS)
    raise RuntimeError(f"task {task_id} did not end within {RUN_SECONDS:.0f} s: are its handlers in auto mode?")


def _row(kind: str, times: list[float], cpu_seconds: float, pause: float) -> Row:
    """``cpu_seconds``: the console's CPU time over the measured runs (all its threads, the simulator's work and
    the status polls included), shown per round: a figure that a busy machine disturbs less than wall time;
    ``pause``: seconds between runs."""
    name = "auto round trip, static" if kind == "static" else kind
    goal = GOALS_MS[kind]
    if not times:
        return Row(name, f"p50 ≤ {goal:g} ms", "no rounds", None, "no round was answered")
    p50 = statistics.median(times)
    p95 = statistics.quantiles(times, n=20)[-1] if len(times) > 1 else times[0]
    cpu_ms = cpu_seconds * 1000 / len(times)
    note = (
        f"p95 {p95:.1f} ms over {len(times)} rounds, opened → acknowledged, one run at a time"
        f"{f', {pause:g} s apart' if pause else ', back to back'}; console CPU {cpu_ms:.1f} ms per round"
    )
    return Row(name, f"p50 ≤ {goal:g} ms", f"{p50:.1f} ms", p50 <= goal, note)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--quick", action="store_true", help="15 runs per kind instead of 60")
    parser.add_argument("--runs", type=int, help="measured runs per handler kind")
    parser.add_argument("--keep", action="store_true", help="keep the temporary folder (log and database)")
    parser.add_argument("--code", type=Path, default=ROOT, help="checkout to run the console from (default: this)")
    parser.add_argument(
        "--pause", type=float, help=f"seconds between runs (default: {PYTHON_PAUSE:g} for Python, else back to back)"
    )
    parser.add_argument("--kinds", default=",".join(KINDS), help="handler kinds to measure, comma-separated")
    args = parser.parse_args(argv)
    kinds = tuple(kind for kind in args.kinds.split(",") if kind)
    if unknown := set(kinds) - set(KINDS):
        parser.error(f"--kinds: unknown {', '.join(sorted(unknown))} (choose from {', '.join(KINDS)})")
    print(
        markdown(
            measure(
                quick=args.quick,
                runs=args.runs,
                keep=args.keep,
                code=args.code.resolve(),
                kinds=kinds,
                pause=args.pause,
            )
        )
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
