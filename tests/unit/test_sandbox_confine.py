"""Where bubblewrap cannot confine workers (missing, or refused by the kernel), and folders left by a killed console."""

from __future__ import annotations

import asyncio
import glob
import logging
import os
import secrets
import signal
import sys
import tempfile
import time
from pathlib import Path

import pytest

import app
from app.handlers.sandbox import Sandbox

GOOD = "def handle(args, agent_id, task_id):\n    return 'ok'\n"
HOME = "import os\ndef handle(args, agent_id, task_id):\n    return os.environ['HOME']\n"
PROJECT = Path(app.__file__).resolve().parent.parent


async def run_once(pool: Sandbox, code: str) -> tuple[str, str | None]:
    outcome = await pool.run(code=code, args={}, agent_id="agent-1", task_id=1)
    return outcome.output, outcome.failure


async def test_run_without_bwrap_is_disabled_naming_setting(caplog: pytest.LogCaptureFixture) -> None:
    pool = Sandbox(workers=1, bwrap="/nonexistent/bwrap", unconfined=False)
    with caplog.at_level(logging.INFO, logger="tooldesk"):
        await pool.start()
    try:
        output, failure = await run_once(pool, GOOD)
    finally:
        await pool.aclose()
    assert failure == "disabled"
    assert "bubblewrap not found at '/nonexistent/bwrap'" in output and "TOOLDESK_SANDBOX_UNCONFINED=true" in output
    assert [record.getMessage() for record in caplog.records] == [output]


async def test_run_without_bwrap_unconfined_runs_in_host_folder(caplog: pytest.LogCaptureFixture) -> None:
    pool = Sandbox(workers=1, bwrap="/nonexistent/bwrap", unconfined=True)
    with caplog.at_level(logging.WARNING, logger="tooldesk"):
        await pool.start()
    try:
        home, failure = await run_once(pool, HOME)
    finally:
        await pool.aclose()
    assert failure is None and Path(home).name.startswith(f"tooldesk-sandbox-{os.getpid()}-")
    assert "TOOLDESK_SANDBOX_UNCONFINED=true" in caplog.records[0].getMessage()


async def test_run_settings_from_environment_opt_in(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TOOLDESK_SANDBOX_BWRAP", "/nonexistent/bwrap")
    monkeypatch.setenv("TOOLDESK_SANDBOX_UNCONFINED", "true")
    pool = Sandbox(workers=1)
    await pool.start()
    try:
        assert await run_once(pool, GOOD) == ("ok", None)
    finally:
        await pool.aclose()


async def test_run_confined_home_is_own_tmpfs() -> None:
    pool = Sandbox(workers=1, bwrap="bwrap", unconfined=False)
    await pool.start()
    try:
        assert await run_once(pool, HOME) == ("/tmp", None)
    finally:
        await pool.aclose()


async def test_start_removes_folders_of_consoles_gone() -> None:
    gone = await asyncio.create_subprocess_exec("true")
    await gone.wait()
    stale = tempfile.mkdtemp(prefix=f"tooldesk-sandbox-{gone.pid}-")
    ours = tempfile.mkdtemp(prefix=f"tooldesk-sandbox-{os.getpid()}-")
    pool = Sandbox(workers=1, bwrap="/nonexistent/bwrap", unconfined=False)
    try:
        await pool.start()
        await pool.aclose()
        assert _existing([stale, ours]) == [ours]
    finally:
        os.rmdir(ours)


CONSOLE = """
import asyncio, sys
from app.handlers.sandbox import Sandbox

async def main() -> None:
    pool = Sandbox(workers=1, memory_mb=int(sys.argv[2]), bwrap=sys.argv[1], unconfined=True)
    await pool.start()
    print("ready", flush=True)
    await asyncio.sleep(60)

asyncio.run(main())
"""


@pytest.mark.parametrize("bwrap", ["bwrap", "/nonexistent/bwrap"], ids=["confined", "unconfined"])
async def test_console_killed_leaves_no_worker_and_next_start_removes_its_folder(bwrap: str) -> None:
    memory_mb = 300 + secrets.randbelow(600)  # on the workers' command lines: finds them among the host's processes
    console = await asyncio.create_subprocess_exec(
        *(sys.executable, "-c", CONSOLE, bwrap, str(memory_mb)),
        stdout=asyncio.subprocess.PIPE,
        env={**os.environ, "PYTHONPATH": str(PROJECT)},
    )
    assert console.stdout is not None and await console.stdout.readline() == b"ready\n"
    folders = glob.glob(f"{tempfile.gettempdir()}/tooldesk-sandbox-{console.pid}-*")
    workers = _workers(memory_mb)
    console.send_signal(signal.SIGKILL)
    await console.wait()
    left = await asyncio.to_thread(_wait_for_no_workers, memory_mb, within=3.0)
    assert workers and left == []
    assert len(folders) == (0 if bwrap == "bwrap" else 1)
    pool = Sandbox(workers=1, bwrap="/nonexistent/bwrap", unconfined=False)
    await pool.start()
    await pool.aclose()
    assert _existing(folders) == []


def _existing(paths: list[str]) -> list[str]:
    return [path for path in paths if os.path.exists(path)]


def _wait_for_no_workers(memory_mb: int, *, within: float) -> list[int]:
    """Wait up to ``within`` seconds for the workers started with ``memory_mb`` to be gone; the pids left."""
    deadline = time.monotonic() + within
    while (left := _workers(memory_mb)) and time.monotonic() < deadline:
        time.sleep(0.05)
    return left


def _workers(memory_mb: int) -> list[int]:
    """Host pids of worker processes (bwrap and the worker inside) started with ``memory_mb``: ``_worker.py FD MB``."""
    pids = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                cmdline = (entry / "cmdline").read_bytes()
            except OSError:
                continue
            parts = cmdline.split(b"_worker.py\0", 1)
            if len(parts) == 2 and parts[1].split(b"\0")[1:2] == [str(memory_mb).encode()]:
                pids.append(int(entry.name))
    return pids
