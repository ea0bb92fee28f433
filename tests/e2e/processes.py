"""Real processes for the restart tests: consoles (``python -m app``) and simulators started, crashed and started
again on the same files, with polling helpers that fail with what did not happen."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.e2e.support import console_env

Start = Callable[..., subprocess.Popen[bytes]]


def wait_until(condition: Callable[[], Any], what: str, within: float = 120.0) -> Any:
    """``condition()`` once it is truthy (a refused connection counts as not yet); fails after ``within`` s."""
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        try:
            value = condition()
        except httpx.TransportError:
            value = None
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError(f"{what} did not happen within {within} s")


def cli(tmp_path: Path, settings: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    """``python -m app ARGS`` in ``tmp_path`` with ``settings``: a command-line tool, not a console."""
    return subprocess.run(
        [sys.executable, "-m", "app", *args],
        cwd=tmp_path,
        env=console_env(dict(os.environ)) | settings,
        capture_output=True,
        text=True,
        timeout=60,
    )


def admin_token(tmp_path: Path, settings: dict[str, str]) -> str:
    """An admin's API token on the console's database, made with ``python -m app token create``."""
    made = cli(tmp_path, settings, "token", "create", "--name", "restart test", "--role", "admin")
    assert made.returncode == 0, made.stderr
    return made.stdout.strip().splitlines()[-1]


def crash(process: subprocess.Popen[bytes]) -> None:
    """``kill -9``: no shutdown hook runs, nothing is flushed or released by the process itself."""
    process.kill()
    process.wait(timeout=10)


@pytest.fixture
def processes(tmp_path: Path) -> Iterator[Start]:
    """Starts ``python -m app ARGS`` in ``tmp_path`` (output appended to ``tmp_path/<log>``); each still running at
    the end is stopped (SIGINT, then SIGKILL)."""
    started: list[subprocess.Popen[bytes]] = []
    env = console_env(dict(os.environ))

    def start(args: list[str], log: str, extra: dict[str, str] | None = None) -> subprocess.Popen[bytes]:
        with (tmp_path / log).open("ab") as out:
            process = subprocess.Popen(
                [sys.executable, "-m", "app", *args],
                cwd=tmp_path,
                env=env | (extra or {}),
                stdout=out,
                stderr=subprocess.STDOUT,
            )
        started.append(process)
        return process

    yield start
    for process in started:
        if process.poll() is None:
            process.send_signal(signal.SIGINT)
            try:
                process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
