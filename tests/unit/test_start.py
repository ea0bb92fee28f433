"""Start-up: a bad setting stops it with one clear line; the webhook secret is generated once and kept."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from app.config import check_secret
from app.db import ensure_webhook_secret, make_engine

ROOT = Path(__file__).resolve().parents[2]


def test_start_bad_setting_exits_2_naming_it(tmp_path: Path):
    env = {k: v for k, v in os.environ.items() if not k.startswith("TOOLDESK_")} | {"TOOLDESK_PORT": "eighty"}
    done = subprocess.run(
        [sys.executable, "-m", "app"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode == 2
    assert "TOOLDESK_PORT" in done.stderr
    assert "Traceback" not in done.stderr


def test_start_unreadable_public_url_exits_2_with_one_line(tmp_path: Path):
    """Regression: ``TOOLDESK_PUBLIC_URL=http://[::1`` passed the settings and broke the Host check's set-up with a
    ``ValueError`` traceback."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("TOOLDESK_")} | {
        "TOOLDESK_PUBLIC_URL": "http://[::1",
        "TOOLDESK_DATABASE_URL": f"sqlite:///{tmp_path}/console.db",
    }
    done = subprocess.run(
        [sys.executable, "-m", "app"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode == 2
    assert done.stderr.strip().splitlines() == [
        "tooldesk: bad setting: TOOLDESK_PUBLIC_URL: Value error, expected an http:// or https:// URL, got "
        "'http://[::1' (Invalid IPv6 URL) (got 'http://[::1')"
    ]


def test_start_simulate_bad_secret_exits_2(tmp_path: Path):
    done = subprocess.run(
        [sys.executable, "-m", "app", "simulate", "--webhook-url", "http://127.0.0.1:1/x", "--secret", "nope"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 2
    assert "--secret" in done.stderr and "whsec_" in done.stderr


def test_secret_generated_once_and_kept_across_restart(database_url: str):
    url = database_url
    first = ensure_webhook_secret(make_engine(url), "")
    second = ensure_webhook_secret(make_engine(url), "")
    assert first == second
    assert check_secret(first) == first


def test_secret_configured_wins(database_url: str):
    configured = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
    assert ensure_webhook_secret(make_engine(database_url), configured) == configured


def test_start_bad_scenario_file_exits_2_naming_it(tmp_path: Path):
    (tmp_path / "broken.json").write_text('{"name": "Broken"')
    env = {k: v for k, v in os.environ.items() if not k.startswith("TOOLDESK_")} | {
        "TOOLDESK_SCENARIOS_DIR": str(tmp_path),
        "TOOLDESK_DATABASE_URL": f"sqlite:///{tmp_path}/t.db",
    }
    done = subprocess.run(
        [sys.executable, "-m", "app"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode == 2
    assert "TOOLDESK_SCENARIOS_DIR" in done.stderr and "broken.json" in done.stderr
    assert "Traceback" not in done.stderr


@pytest.mark.sqlite_only("the SQLite file's mode")
def test_database_file_readable_by_owner_only(tmp_path: Path):
    make_engine(f"sqlite:///{tmp_path}/private.db")
    assert (tmp_path / "private.db").stat().st_mode & 0o777 == 0o600


@pytest.mark.sqlite_only("an older version's SQLite file")
def test_old_database_gets_new_columns_added(tmp_path: Path):
    import sqlite3

    from app.migrations.baseline.tables import metadata

    baseline_tables = set(metadata.tables)
    path = tmp_path / "old.db"
    make_engine(f"sqlite:///{path}").dispose()
    with sqlite3.connect(path) as conn:  # what an older version left: a delivery table without replay_of
        conn.execute("ALTER TABLE delivery DROP COLUMN replay_of")
        conn.execute("DROP TABLE alembic_version")  # made before migrations: adopted by the baseline
        for (table,) in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'").fetchall():
            if table not in baseline_tables and not table.startswith(("sqlite_", "run_fts", "run_count")):
                conn.execute(f"DROP TABLE {table}")  # tables of revisions after the baseline: not there yet
    make_engine(f"sqlite:///{path}").dispose()
    with sqlite3.connect(path) as conn:
        assert "replay_of" in {row[1] for row in conn.execute("PRAGMA table_info(delivery)")}


def test_sign_in_off_on_a_public_address_stops_start_up_with_one_line(tmp_path: Path):
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TOOLDESK_", "PYTEST_"))}
    env |= {
        "TOOLDESK_AUTH": "off",
        "TOOLDESK_HOST": "0.0.0.0",
        "TOOLDESK_DATABASE_URL": f"sqlite:///{tmp_path}/t.db",
        "PYTHONPATH": str(ROOT),
    }
    done = subprocess.run([sys.executable, "-m", "app"], env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 2
    assert done.stderr.strip().splitlines() == [
        "tooldesk: bad setting: TOOLDESK_AUTH=off is accepted only when listening on a loopback address, not "
        "0.0.0.0: set TOOLDESK_HOST=127.0.0.1, or leave sign-in on"
    ]
