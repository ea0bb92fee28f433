"""API tokens and users from the command line, and what an answerer's token may do."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from nicegui.testing import User

from app.runtime import get_runtime
from app.services import tokens, users
from app.states import Role
from tests.builders import CLOCK, Console

ROOT = Path(__file__).resolve().parents[2]


def _cli(*args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "PYTEST_CURRENT_TEST"} | {"PYTHONPATH": str(ROOT)}
    return subprocess.run(
        [sys.executable, "-m", "app", *args], input=stdin, capture_output=True, text=True, env=env, timeout=60
    )


def test_user_commands_add_passwd_list_remove(settings_env: None):
    added = _cli("user", "add", "ana", "--role", "answerer", stdin="first-password\n")
    assert added.returncode == 0, added.stderr
    assert _cli("user", "list").stdout.splitlines() == ["ana\tanswerer"]
    assert _cli("user", "passwd", "ana", stdin="second-password\n").returncode == 0
    from app.config import get_settings
    from app.db import make_engine

    engine = make_engine(get_settings().database_url)
    assert users.check_password(engine=engine, name="ana", password="second-password") is not None
    assert users.check_password(engine=engine, name="ana", password="first-password") is None
    engine.dispose()
    assert _cli("user", "remove", "ana").returncode == 0
    assert _cli("user", "list").stdout == ""


def test_user_add_with_short_password_exits_2_with_one_line(settings_env: None):
    result = _cli("user", "add", "ana", "--role", "viewer", stdin="short\n")
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == ["tooldesk user add: password: use 8 to 256 characters (got 5)"]


async def test_token_create_prints_the_token_last_and_it_works_until_revoked(user: User, console: Console):
    created = _cli("token", "create", "--name", "ci", "--role", "viewer")
    assert created.returncode == 0, created.stderr
    token = created.stdout.strip().splitlines()[-1]
    assert token.startswith("td_") and " " not in token
    bearer = {"authorization": f"Bearer {token}"}
    assert (await console.get("/api/runs", headers=bearer)).status_code == 200
    listed = _cli("token", "list").stdout
    assert "\tci\tviewer\t" in listed and "last used 20" in listed
    token_id = next(t.id for t in tokens.list_tokens(engine=get_runtime().engine) if t.name == "ci")
    assert _cli("token", "revoke", str(token_id)).returncode == 0
    refused = await console.get("/api/runs", headers=bearer)
    assert refused.status_code == 401
    assert "revoked" in refused.json()["error"]["message"]


@pytest.mark.sqlite_only("reads the SQLite file's bytes")
async def test_token_is_stored_only_as_its_hash(console: Console):
    _, token = tokens.create_token(engine=get_runtime().engine, name="ci", role=Role.VIEWER, created_by="tests")
    assert token.encode() not in _database_bytes()
    assert any(t.prefix == token[:11] for t in tokens.list_tokens(engine=get_runtime().engine))


def _database_bytes() -> bytes:
    """The SQLite file and its write-ahead log, as stored on disk."""
    path = Path(get_runtime().settings.database_path)
    wal = path.with_name(path.name + "-wal")
    return path.read_bytes() + (wal.read_bytes() if wal.exists() else b"")


async def test_answerer_token_starts_runs_and_answers_rounds_but_cannot_save_python(console: Console):
    _, token = tokens.create_token(engine=get_runtime().engine, name="ci", role=Role.ANSWERER, created_by="tests")
    console.headers["authorization"] = f"Bearer {token}"
    task_id = await console.start(CLOCK)
    round_ = await console.pending_round(task_id)
    await console.answer(round_, {"get_current_time": "noon"})
    await console.wait_for_status(task_id, "completed")
    saved = await console.post(
        "/api/handlers",
        json={
            "agent_id": CLOCK,
            "tool_name": "get_current_time",
            "kind": "python",
            "mode": "auto",
            "spec": {"code": "def handle(args, agent_id, task_id):\n    return 'x'\n"},
        },
    )
    assert saved.status_code == 403
    assert saved.json()["error"] == {
        "code": "forbidden",
        "message": "POST /api/handlers needs the role admin or above; token ci is answerer: "
        "ask an admin for a token or user with that role",
    }


async def test_answerer_token_cancels_a_run(console: Console):
    _, token = tokens.create_token(engine=get_runtime().engine, name="ci", role=Role.ANSWERER, created_by="tests")
    console.headers["authorization"] = f"Bearer {token}"
    task_id = await console.start(CLOCK)
    await console.pending_round(task_id)
    response = await console.post(f"/api/runs/{task_id}/cancel", json={})
    assert response.status_code == 200, response.text
    await console.wait_for_status(task_id, "cancelled")
