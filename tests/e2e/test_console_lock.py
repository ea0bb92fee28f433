"""One console per SQLite file (issue 8, item 5): a second console on the same file refuses to start, naming the
running one; the command-line tools still work beside it; a crashed console (``kill -9``) leaves no stale lock."""

from __future__ import annotations

from pathlib import Path

import httpx

from tests.builders import CLOCK, free_port
from tests.e2e.processes import Start, cli, crash, processes, wait_until
from tests.e2e.support import AUTH

__all__ = ["processes"]  # the fixture, used by name


def _settings(tmp_path: Path, port: int) -> dict[str, str]:
    return {"TOOLDESK_PORT": str(port), "TOOLDESK_DATABASE_URL": f"sqlite:///{tmp_path}/shared.db"}


def _up(port: int) -> bool:
    return httpx.get(f"http://127.0.0.1:{port}/sim/v1/agents", headers=AUTH, timeout=5).status_code == 200


def test_second_console_on_same_file_refuses_naming_the_first(processes: Start, tmp_path: Path):
    first_port, second_port = free_port(), free_port()
    first = processes([], "console-1.log", _settings(tmp_path, first_port))
    wait_until(lambda: _up(first_port), "the first console starting")

    second = cli(tmp_path, _settings(tmp_path, second_port))

    assert second.returncode == 2
    [line] = second.stderr.strip().splitlines()
    assert f"pid {first.pid}, port {first_port}" in line
    assert "one console per database file" in line and "TOOLDESK_DATABASE_URL" in line
    assert first.poll() is None and _up(first_port)


def test_command_line_tools_work_while_a_console_runs(processes: Start, tmp_path: Path):
    port = free_port()
    processes([], "console.log", _settings(tmp_path, port) | {"TOOLDESK_AUTH": "off"})
    wait_until(lambda: _up(port), "the console starting")

    made = cli(tmp_path, _settings(tmp_path, port), "token", "create", "--name", "beside", "--role", "viewer")
    listed = cli(tmp_path, _settings(tmp_path, port), "token", "list")
    table = cli(tmp_path, _settings(tmp_path, port), "settings")

    assert made.returncode == 0, made.stderr
    assert listed.returncode == 0 and "beside" in listed.stdout
    assert table.returncode == 0 and "TOOLDESK_DATABASE_URL" in table.stdout
    with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=10) as api:  # the console still works after them
        task_id = api.post(f"/api/agents/{CLOCK}/runs", json={}).json()["task_id"]
        wait_until(lambda: [r for r in api.get("/api/rounds").json() if r["task_id"] == task_id], "round 1 pending")


def test_console_starts_on_the_file_after_the_first_was_killed(processes: Start, tmp_path: Path):
    first_port, second_port = free_port(), free_port()
    first = processes([], "console-1.log", _settings(tmp_path, first_port))
    wait_until(lambda: _up(first_port), "the first console starting")
    crash(first)

    second = processes([], "console-2.log", _settings(tmp_path, second_port))

    wait_until(lambda: _up(second_port), "a console starting on the file of the killed one")
    assert second.poll() is None
