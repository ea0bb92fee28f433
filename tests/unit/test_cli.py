"""The ``tooldesk`` command (issue 9, item 6): the installed script is ``app.__main__:main``; ``--help`` lists every
command in one line each; each command works; a bad argument is one line on stderr and exit status 2, never a
traceback."""

from __future__ import annotations

import importlib
import json
import os
import re
import sqlite3
import subprocess
import tomllib
from pathlib import Path

import pytest

from app.__main__ import main
from app.auth.identity import TOKEN_PREFIX
from tests.builders import tooldesk_command

ROOT = Path(__file__).resolve().parents[2]
COMMANDS = ["serve", "desktop", "simulate", "export", "import", "user", "token", "settings"]


def tooldesk(tmp_path: Path, *args: str, stdin: str = "", **settings: str) -> subprocess.CompletedProcess[str]:
    """``tooldesk ARGS`` as a process of its own, on the test's database (``tests/conftest.py``)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TOOLDESK_", "PYTEST_"))}
    env["PYTHONPATH"] = str(ROOT)  # this checkout, whatever copy of the package the script was installed from
    env["TOOLDESK_DATABASE_URL"] = os.environ["TOOLDESK_DATABASE_URL"]
    env |= settings
    return subprocess.run(
        [*tooldesk_command(), *args],
        cwd=tmp_path,
        env=env,
        input=stdin,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_script_entry_is_the_command_lines_main():
    scripts = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["scripts"]
    module_name, _, attribute = scripts["tooldesk"].partition(":")

    entry = getattr(importlib.import_module(module_name), attribute)

    assert callable(entry)
    assert entry is importlib.import_module("app.__main__").main


def test_help_lists_every_command_in_one_line_each(tmp_path: Path):
    done = tooldesk(tmp_path, "--help")

    assert done.returncode == 0, done.stderr
    for command in COMMANDS:
        lines = [line for line in done.stdout.splitlines() if re.match(rf"^\s+{command}\s+\S", line)]
        assert len(lines) == 1, f"{command!r} is not listed in one line:\n{done.stdout}"


def test_bad_argument_through_the_script_is_one_line_and_status_2(tmp_path: Path):
    for args, said in [(["nope"], "invalid choice: 'nope'"), (["serve", "--port", "0"], "TOOLDESK_PORT")]:
        done = tooldesk(tmp_path, *args)

        assert done.returncode == 2
        assert "Traceback" not in done.stderr
        [line] = done.stderr.strip().splitlines()
        assert line.startswith("tooldesk") and said in line


@pytest.mark.parametrize(
    ("args", "said"),
    [
        (["nope"], "invalid choice: 'nope'"),
        (["token", "revoke", "abc"], "invalid int value: 'abc'"),
        (["user"], "required"),
        (["user", "add", "alice"], "--role"),
        (["export"], "file"),
        (["simulate"], "--webhook-url"),
        (["serve", "--port", "eighty"], "invalid int value"),
        (["serve", "--port", "0"], "TOOLDESK_PORT"),
        (["--port", "99999"], "TOOLDESK_PORT"),
        (["import", "missing.json"], "missing.json"),
        (["token", "revoke", "99999999999999999999999"], "ids are from 1 to"),
    ],
)
def test_bad_argument_is_one_line_and_status_2(
    args: list[str], said: str, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
):
    monkeypatch.setenv("TOOLDESK_PORT", "8080")  # put back after the test: ``serve --port`` sets it
    try:
        status = main(args)
    except SystemExit as stop:
        status = int(stop.code or 0)
    stderr = capsys.readouterr().err

    assert status == 2
    [line] = stderr.strip().splitlines()
    assert line.startswith("tooldesk") and said in line


def test_user_and_token_commands(tmp_path: Path, capsys: pytest.CaptureFixture[str]):
    added = tooldesk(tmp_path, "user", "add", "alice", "--role", "answerer", stdin="a-long-password\n")
    made = tooldesk(tmp_path, "token", "create", "--name", "ci", "--role", "viewer")
    assert main(["user", "list"]) == 0
    assert main(["token", "list"]) == 0
    listed = capsys.readouterr().out

    assert added.returncode == 0, added.stderr
    assert made.returncode == 0, made.stderr
    assert made.stdout.strip().splitlines()[-1].startswith(TOKEN_PREFIX)
    assert "alice\tanswerer" in listed
    assert "\tci\tviewer\t" in listed


def test_export_then_import_into_another_database(tmp_path: Path):
    other = tmp_path / "other"
    other.mkdir()
    assert tooldesk(tmp_path, "db", "upgrade").returncode == 0
    exported = tooldesk(tmp_path, "export", "-")
    (tmp_path / "config.json").write_text(exported.stdout)

    imported = tooldesk(other, "import", str(tmp_path / "config.json"), TOOLDESK_DATABASE_URL=f"sqlite:///{other}/t.db")

    assert exported.returncode == 0, exported.stderr
    assert isinstance(json.loads(exported.stdout), dict)
    assert imported.returncode == 0, imported.stderr
    assert "imported" in imported.stderr


def test_settings_prints_the_table(capsys: pytest.CaptureFixture[str]):
    assert main(["settings"]) == 0
    assert "| `TOOLDESK_DATABASE_URL` |" in capsys.readouterr().out


def test_desktop_without_a_display_is_one_line(tmp_path: Path):
    environ = {k: v for k, v in os.environ.items() if k not in {"DISPLAY", "WAYLAND_DISPLAY"}}
    done = subprocess.run(
        [*tooldesk_command(), "desktop"],
        cwd=tmp_path,
        env={**environ, "PYTHONPATH": str(ROOT), "XDG_DATA_HOME": str(tmp_path / "data")},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )

    assert done.returncode == 2
    [line] = done.stderr.strip().splitlines()
    assert line.startswith("tooldesk desktop: ")
    assert "DISPLAY" in line or "pywebview" in line


def test_desktop_with_a_display_nobody_answers_is_one_line(tmp_path: Path):
    environ = {k: v for k, v in os.environ.items() if k not in {"DISPLAY", "WAYLAND_DISPLAY"}}
    done = subprocess.run(
        [*tooldesk_command(), "desktop"],
        cwd=tmp_path,
        env={**environ, "DISPLAY": ":97", "PYTHONPATH": str(ROOT), "XDG_DATA_HOME": str(tmp_path / "data")},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )

    if "pywebview" in done.stderr:
        pytest.skip("pywebview is not installed here (make test installs it)")
    assert (done.returncode, done.stderr) == (
        2,
        "tooldesk desktop: no display server answers at DISPLAY=:97: start one, or use `tooldesk serve` and a browser\n",
    )


@pytest.mark.parametrize("command", [("db", "current"), ("export", "-")])
def test_reading_commands_refuse_a_database_that_does_not_exist(tmp_path: Path, command: tuple[str, ...]):
    mistyped = tmp_path / "tooldesk-typo.db"

    done = tooldesk(tmp_path, *command, TOOLDESK_DATABASE_URL=f"sqlite:///{mistyped}")

    assert done.returncode == 2
    assert done.stderr == (
        f"tooldesk {command[0]}{' current' if command[0] == 'db' else ''}: no database at {mistyped} "
        "(TOOLDESK_DATABASE_URL): check the path; `tooldesk serve` makes a new one\n"
    )
    assert not mistyped.exists()


def test_user_add_refuses_an_empty_password(tmp_path: Path, capsys: pytest.CaptureFixture[str]):
    done = tooldesk(tmp_path, "user", "add", "root2", "--role", "admin", stdin="\n")
    assert main(["user", "list"]) == 0

    assert (done.returncode, done.stderr) == (
        2,
        "tooldesk user add: the password is empty: nobody could sign in with it; give one\n",
    )
    assert "root2" not in capsys.readouterr().out


def test_db_upgrade_refuses_another_programs_database(tmp_path: Path):
    foreign = tmp_path / "photos.db"
    with sqlite3.connect(foreign) as conn:
        conn.execute("CREATE TABLE album (id INTEGER PRIMARY KEY, title TEXT)")

    done = tooldesk(tmp_path, "db", "upgrade", TOOLDESK_DATABASE_URL=f"sqlite:///{foreign}")

    assert done.returncode == 2
    assert "names a database of another program (its tables: album; none of Tooldesk's)" in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1
    with sqlite3.connect(foreign) as conn:
        assert [name for (name,) in conn.execute("SELECT name FROM sqlite_master")] == ["album"]


def test_native_option_is_the_desktop_command(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch):
    monkeypatch.delenv("DISPLAY", raising=False)
    monkeypatch.delenv("WAYLAND_DISPLAY", raising=False)

    assert main(["--native"]) == 2
    assert capsys.readouterr().err.startswith("tooldesk desktop: ")


@pytest.mark.parametrize("command", [("export", "-"), ("user", "list"), ("token", "list")])
def test_damaged_database_is_one_line_and_status_2(tmp_path: Path, command: tuple[str, ...]):
    damaged = tmp_path / "damaged.db"
    damaged.write_bytes(b"garbage" * 500)

    done = tooldesk(tmp_path, *command, TOOLDESK_DATABASE_URL=f"sqlite:///{damaged}")

    assert (done.returncode, done.stderr) == (2, "tooldesk: the database cannot be used: file is not a database\n")


def test_database_of_an_unknown_revision_is_one_line_and_status_2(tmp_path: Path):
    url = f"sqlite:///{tmp_path / 'newer.db'}"
    assert tooldesk(tmp_path, "db", "upgrade", TOOLDESK_DATABASE_URL=url).returncode == 0
    with sqlite3.connect(tmp_path / "newer.db") as conn:  # as a newer Tooldesk's migration would leave it
        conn.execute("UPDATE alembic_version SET version_num = '9999_future'")

    for command in (("user", "list"), ("db", "upgrade", "no_such_revision")):
        done = tooldesk(tmp_path, *command, TOOLDESK_DATABASE_URL=url)
        assert done.returncode == 2 and len(done.stderr.splitlines()) == 1, done.stderr
        assert done.stderr.startswith("tooldesk: migrations: Can't locate revision identified by")


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("https://bob:hunter2@platform.example.com/?token=QTOKEN", "https://platform.example.com/"),
        ("http://127.0.0.1:8080/sim", "http://127.0.0.1:8080/sim"),
    ],
)
def test_platform_address_in_messages_holds_no_credentials(url: str, shown: str):
    from app.platform.client import shown_url

    assert shown_url(url) == shown


def test_unreadable_database_url_is_one_line_and_status_2(tmp_path: Path):
    """Regression: a password that is not percent-encoded gave a ValueError traceback and exit status 1."""
    url = "postgresql+psycopg://postgres:p@ss:w/rd#1?@127.0.0.1:55441/td"
    done = tooldesk(tmp_path, "db", "current", TOOLDESK_DATABASE_URL=url)
    assert done.returncode == 2, done.stderr[-500:]
    assert len(done.stderr.strip().splitlines()) == 1 and "percent-encode" in done.stderr
    assert "rd#1" not in done.stderr + done.stdout
