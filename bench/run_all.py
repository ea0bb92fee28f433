"""``make bench`` and ``make bench-quick``: every benchmark of issue 10 in turn, one Markdown table at the end.

Run from the repository root::

    .venv/bin/python bench/run_all.py [--quick] [--only ingest,roundtrip]

Each module of ``MODULES`` (``bench/<name>.py``) runs in a process of its own, which imports it and calls its
``measure(quick=...)`` (``bench/table.py``): a module that is missing, has no ``measure``, raises, dies or overruns
its time becomes one row with verdict "not measured" and the reason, and the others still run. In quick mode each
module has a time budget (``MODULES``; time a module leaves unused passes on to the next ones), so the whole run
takes under 2 minutes; on overrun the module gets SIGTERM (its servers are stopped by its own clean-up), then
SIGKILL. Full mode gives each module up to 30 minutes.

Prints the table (``bench/table.markdown``: measure, goal, measured, verdict, note) and the machine (CPUs, CPU
model, RAM, kernel, Python, SQLite) to stdout; progress and the modules' own output go to stderr. Exit status 0
when the table was printed, whether or not every goal is met (the verdicts say it); 2 on an error of this
harness itself.
"""

from __future__ import annotations

import argparse
import importlib
import importlib.util
import json
import os
import platform
import signal
import subprocess
import sys
import threading
import time
import traceback
from dataclasses import asdict
from pathlib import Path
from types import FrameType
from typing import IO

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "bench"))

from table import Row, markdown  # noqa: E402

# (module, seconds it may take in quick mode); the quick budgets add up to 104 s, which leaves room for Python's
# start-up of each child and one overrun's SIGTERM grace within the 2 minutes of make bench-quick (postgres
# measures nothing in quick mode)
MODULES: tuple[tuple[str, float], ...] = (
    ("ingest", 52.0),
    ("roundtrip", 9.0),
    ("seed_runs", 15.0),
    ("ui_live", 15.0),
    ("cost_curve", 10.0),
    ("postgres", 3.0),
)
FULL_BUDGET = 1800.0  # seconds per module in full mode
GRACE = 8.0  # seconds between SIGTERM and SIGKILL of a module that overran
RESULT_PREFIX = "BENCH_ROWS "


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--quick", action="store_true", help="short runs with a time budget each (under 2 minutes)")
    parser.add_argument("--only", default="", help="comma-separated modules to run (default: all)")
    parser.add_argument("--child", metavar="MODULE", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        return child(args.child, quick=args.quick)
    names = [name for name, _ in MODULES]
    chosen = [name.strip() for name in args.only.split(",") if name.strip()] or names
    unknown = sorted(set(chosen) - set(names))
    if unknown:
        parser.error(f"unknown module(s) {', '.join(unknown)}: choose among {', '.join(names)}")
    try:
        return run(chosen, quick=args.quick)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 2
    except Exception:
        traceback.print_exc()
        return 2


def run(chosen: list[str], *, quick: bool) -> int:
    """Run the chosen modules one after another and print the table and the machine."""
    began = time.monotonic()
    rows: list[Row] = []
    allowed = 0.0
    for name, budget in MODULES:
        if name not in chosen:
            continue
        allowed += budget if quick else FULL_BUDGET
        limit = max(5.0, allowed - (time.monotonic() - began)) if quick else FULL_BUDGET
        print(f"--- {name} (up to {limit:.0f} s) ---", file=sys.stderr, flush=True)
        started = time.monotonic()
        rows.extend(run_module(name, quick=quick, limit=limit))
        print(f"--- {name}: {time.monotonic() - started:.0f} s ---", file=sys.stderr, flush=True)
    print(markdown(rows))
    print()
    mode = "quick mode (short runs: figures indicative only)" if quick else "full mode"
    print(f"{_machine()} {mode}, {time.monotonic() - began:.0f} s in all.")
    return 0


def _machine() -> str:
    """``ingest.machine()`` (CPUs, CPU model, RAM, kernel, Python, SQLite), or what this process knows without it."""
    try:
        from ingest import machine

        return machine()
    except Exception as exc:
        return f"Machine: {os.cpu_count()} CPUs, {platform.platform()}, Python {platform.python_version()} ({exc})."


def run_module(name: str, *, quick: bool, limit: float) -> list[Row]:
    """One module's rows, measured in a child process given ``limit`` seconds; a failure is one row saying why."""
    if importlib.util.find_spec(name) is None:
        return [_failed(name, f"bench/{name}.py is not there")]
    command = [sys.executable, str(Path(__file__).resolve()), "--child", name, *(["--quick"] if quick else [])]
    deadline = time.time() + limit - 3  # the module may use it to skip what would not fit (bench/ingest.py does)
    paths = [str(ROOT), *filter(None, os.environ.get("PYTHONPATH", "").split(os.pathsep))]
    env = dict(os.environ, BENCH_DEADLINE=f"{deadline:.3f}", PYTHONPATH=os.pathsep.join(paths))  # `import app` works
    process = subprocess.Popen(command, stdout=subprocess.PIPE, text=True, env=env, start_new_session=True)
    assert process.stdout is not None
    found: list[str] = []
    reader = threading.Thread(target=_split_output, args=(process.stdout, found), daemon=True)
    reader.start()
    try:
        process.wait(timeout=limit)
    except subprocess.TimeoutExpired:
        _stop(process)
        reader.join(timeout=5)
        return [_failed(name, f"did not finish within its {limit:.0f} s budget: stopped")]
    reader.join(timeout=5)
    if not found:
        return [_failed(name, f"exited with status {process.returncode} without rows (its output is above)")]
    result = json.loads(found[-1])
    if "error" in result:
        return [_failed(name, str(result["error"]))]
    return [Row(**row) for row in result["rows"]]


def child(name: str, *, quick: bool) -> int:
    """In the child process: import ``name``, call its ``measure``, print ``BENCH_ROWS {json}`` on stdout."""
    signal.signal(signal.SIGTERM, _interrupt)  # the module's own clean-up (finally) stops its servers
    try:
        module = importlib.import_module(name)
        measure = getattr(module, "measure", None)
        if not callable(measure):
            raise TypeError(f"bench/{name}.py has no measure(*, quick: bool) -> list[Row]")
        rows = list(measure(quick=quick))
        bad = [row for row in rows if not isinstance(row, Row)]
        if bad:
            raise TypeError(f"measure() returned something other than Row: {bad[0]!r}"[:300])
        result: dict[str, object] = {"rows": [asdict(row) for row in rows]}
    except KeyboardInterrupt:
        result = {"error": "stopped by a signal"}
    except BaseException as exc:
        traceback.print_exc()
        first = str(exc).splitlines()[0] if str(exc) else ""
        result = {"error": f"{type(exc).__name__}: {first}"[:400]}
    sys.stdout.flush()
    print(RESULT_PREFIX + json.dumps(result), flush=True)
    return 0


def _split_output(stream: IO[str], found: list[str]) -> None:
    """Keep the result line; pass every other line of the module's stdout on to stderr."""
    for line in stream:
        if line.startswith(RESULT_PREFIX):
            found.append(line.removeprefix(RESULT_PREFIX))
        else:
            sys.stderr.write(line)


def _stop(process: subprocess.Popen[str]) -> None:
    """SIGTERM to the module's process group, SIGKILL after ``GRACE`` seconds."""
    for sig, wait in ((signal.SIGTERM, GRACE), (signal.SIGKILL, 5.0)):
        try:
            os.killpg(process.pid, sig)
        except ProcessLookupError:
            return
        try:
            process.wait(timeout=wait)
            return
        except subprocess.TimeoutExpired:
            continue


def _failed(name: str, reason: str) -> Row:
    return Row(measure=name, goal="", measured="", met=None, note=reason)


def _interrupt(_signum: int, _frame: FrameType | None) -> None:
    raise KeyboardInterrupt


if __name__ == "__main__":
    sys.exit(main())
