"""Schema migrations (Alembic): a database made before them is upgraded without losing a row, a fresh one is the
same as an upgraded one, the models equal the migrated schema, and a start upgrades a database left behind."""

from __future__ import annotations

import json
import logging
import re
import sqlite3
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Column, Integer, MetaData, text
from sqlalchemy.exc import IntegrityError

from app import migrations
from app.__main__ import main
from app.config import get_settings
from app.db import make_engine
from app.run_counts import runs_by_status
from app.services import run_search
from app.services.handler_store import delete_handler, list_versions
from app.services.runs import RunFilter, get_run, search_runs
from app.services.users import list_users

BEFORE = Path(__file__).with_name("schema_before_migrations.sql")
"""``sqlite3 .schema`` of a fresh console database as the console made it before migrations."""
STATUSES = ["completed", "completed", "awaiting_tool_calls", "failed", "my_own_status"]
KEYS = {
    "draft": ("round_id", "round"),
    "outbox": ("round_id", "round"),
    "event": ("task_id", "run"),
    "handler_version": ("handler_id", "handler"),
}
FILLED = ("run", "delivery", "round", "tool_call", "tool_result", "draft", "outbox", "event", "handler")
FILLED += ("handler_version", "user", "apitoken", "setting", "audit", "agent", "sim_run")


def test_upgrade_database_made_before_migrations_keeps_every_row(tmp_path: Path):
    path = _before_migrations(tmp_path)
    _fill(path)
    counted = _counts(path)

    engine = make_engine(f"sqlite:///{path}")

    assert migrations.current(engine) == migrations.head()
    assert _counts(path) == counted
    run = get_run(engine=engine, task_id=7003)
    assert (run.status, run.result, [e.summary for e in run.events]) == (
        "failed",
        {"city": "Kraków"},
        ["sequence 1: running", "sequence 2: awaiting_tool_calls"],
    )
    [round_] = run.rounds
    assert [(d.tool_call_id, d.output, d.answered_by) for d in round_.drafts] == [("c1", "7 °C", "rules handler v2")]
    assert [v.version for v in list_versions(engine=engine, handler_id=1)] == [3, 2, 1]
    assert [(u.name, u.role, u.has_password) for u in list_users(engine=engine)] == [
        ("admin", "admin", True),
        ("ops", "answerer", False),
    ]
    with sqlite3.connect(path) as conn:
        assert conn.execute("SELECT body FROM delivery WHERE id = 15").fetchone() == (b'{"task_id": 7007, "x": 1}',)
        assert conn.execute("SELECT value FROM setting WHERE key = 'webhook_secret'").fetchone() == ("whsec_kept",)
    with engine.connect() as conn:
        assert runs_by_status(conn) == dict(Counter(STATUSES * 4))  # 20 runs


def test_upgrade_database_made_before_migrations_search_still_finds_runs(tmp_path: Path):
    path = _before_migrations(tmp_path)
    _fill(path)

    engine = make_engine(f"sqlite:///{path}")

    assert _found(engine, "MÜNCHEN") == [7007]  # marked by the triggers while filling, not yet indexed
    run_search.index_marked(engine, cap=100)
    assert run_search.marked(engine) == 0
    assert _found(engine, "münchen") == [7007]
    assert _found(engine, "kraków") == [7003]


def test_upgrade_adds_foreign_keys_that_refuse_orphans_and_cascade(tmp_path: Path):
    path = _before_migrations(tmp_path)
    _fill(path)
    engine = make_engine(f"sqlite:///{path}")

    with sqlite3.connect(path) as conn:
        keys = {t: [(k[3], k[2], k[6]) for k in conn.execute(f"PRAGMA foreign_key_list({t})")] for t in KEYS}
        assert conn.execute("PRAGMA foreign_key_check").fetchall() == []
        typed = conn.execute("SELECT sql FROM sqlite_master WHERE name = 'uq_draft_typed'").fetchone()
    assert keys == {
        "draft": [("round_id", "round", "CASCADE")],
        "outbox": [("round_id", "round", "CASCADE")],
        "event": [("task_id", "run", "CASCADE")],
        "handler_version": [("handler_id", "handler", "CASCADE")],
    }
    assert typed[0].endswith("WHERE mode = 'typed'")  # the partial index survived the table's copy
    with pytest.raises(IntegrityError, match="FOREIGN KEY"), engine.begin() as conn:
        conn.execute(text("INSERT INTO event (task_id, at, kind, summary, console_made) VALUES (1, 1, 'state', '', 0)"))
    delete_handler(engine=engine, handler_id=1)
    assert _counts(path)["handler_version"] == 0


def test_upgrade_deletes_orphans_and_says_how_many(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, capsys: pytest.CaptureFixture[str]
):
    path = _before_migrations(tmp_path)
    _fill(path)
    with sqlite3.connect(path) as conn:  # an older version's refused line on the timeline of a task never known
        conn.execute(
            "INSERT INTO event (task_id, at, kind, summary, delivery_id, console_made) "
            "VALUES (9999, 1, 'refused', 'delivery refused (bad_signature, answered 401)', 14, 0)"
        )
        conn.execute(
            "INSERT INTO handler_version (handler_id, version, kind, mode, spec, behaviour, saved_at, note) "
            "VALUES (77, 1, 'static', 'auto', '{}', '{}', 1, '')"
        )
    counted = _counts(path)

    with caplog.at_level(logging.WARNING):
        make_engine(f"sqlite:///{path}")

    assert _counts(path) == {
        **counted,
        "event": counted["event"] - 1,
        "handler_version": counted["handler_version"] - 1,
    }
    assert sorted(r.getMessage() for r in caplog.records if r.levelno == logging.WARNING) == [
        "deleted 1 event row(s) whose task_id had no run (orphans, never shown)",
        "deleted 1 handler_version row(s) whose handler_id had no handler (orphans, never shown)",
    ]
    assert sorted(capsys.readouterr().err.splitlines()) == [  # on the terminal too, where logging is not set up
        "Tooldesk: the foreign-keys migration deleted 1 event row(s) whose task_id had no run",
        "Tooldesk: the foreign-keys migration deleted 1 handler_version row(s) whose handler_id had no handler",
    ]


def test_baseline_makes_the_schema_made_before_migrations(tmp_path: Path):
    before = _before_migrations(tmp_path)
    baseline = tmp_path / "baseline.db"

    migrations.upgrade(make_engine(f"sqlite:///{baseline}", migrate=False), "0001_baseline")

    assert _schema(baseline) == _schema(before)


def test_fresh_database_equals_upgraded_one(tmp_path: Path):
    upgraded = _before_migrations(tmp_path)
    _fill(upgraded)
    make_engine(f"sqlite:///{upgraded}")
    fresh = tmp_path / "fresh.db"

    make_engine(f"sqlite:///{fresh}")

    assert _schema(fresh) == _schema(upgraded)


def test_models_equal_migrated_schema(tmp_path: Path):
    """A model changed without a revision fails here: autogenerate would find the difference."""
    engine = make_engine(f"sqlite:///{tmp_path / 'td.db'}")
    models = migrations.target_metadata()
    changed = MetaData()
    for metadata in models:
        for table in metadata.tables.values():
            table.to_metadata(changed)
    changed.tables["run"].append_column(Column("new_column", Integer))

    with engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"include_name": migrations.include_name})
        assert compare_metadata(context, models) == []
        assert [change[0] for change in compare_metadata(context, changed)] == ["add_column"]


def test_start_on_database_at_older_revision_upgrades_it(tmp_path: Path):
    path = tmp_path / "td.db"
    migrations.upgrade(make_engine(f"sqlite:///{path}", migrate=False), "0001_baseline")
    with sqlite3.connect(path) as conn:
        conn.execute(
            "INSERT INTO run (task_id, agent_id, status, sequence, created_at, updated_at, handler_set) "
            "VALUES (5, 'a', 'running', 1, 1, 1, 'saved')"
        )
        conn.execute("INSERT INTO event (task_id, at, kind, summary, console_made) VALUES (5, 1, 'state', 'x', 0)")

    engine = make_engine(f"sqlite:///{path}")

    assert migrations.current(engine) == "0003_postgres_search" == migrations.head()
    assert [e.summary for e in get_run(engine=engine, task_id=5).events] == ["x"]


def test_db_command_upgrades_and_reports_revision(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
):
    path = tmp_path / "td.db"
    migrations.upgrade(make_engine(f"sqlite:///{path}", migrate=False), "0001_baseline")
    monkeypatch.setenv("TOOLDESK_DATABASE_URL", f"sqlite:///{path}")
    get_settings.cache_clear()

    said = [
        (main(["db", *args]), *capsys.readouterr()) for args in (["current"], ["upgrade"], ["upgrade"], ["current"])
    ]

    get_settings.cache_clear()
    assert said == [
        (0, "0001_baseline (head is 0003_postgres_search)\n", ""),
        (0, "", "tooldesk db: upgraded from 0001_baseline to 0003_postgres_search\n"),
        (0, "", "tooldesk db: already at 0003_postgres_search\n"),
        (0, "0003_postgres_search (head)\n", ""),
    ]


def _before_migrations(tmp_path: Path) -> Path:
    path = tmp_path / "before.db"
    with sqlite3.connect(path) as conn:
        conn.executescript(BEFORE.read_text())
    return path


def _fill(path: Path) -> None:
    """Ten runs with their deliveries (one refused each), a round each with two calls, results, drafts, outbox
    items and timeline lines; a handler with three versions, users, a token, a setting, the audit, an agent and
    a simulated run, written as the console before migrations wrote them."""
    with sqlite3.connect(path) as conn:
        for n in range(10):
            task_id = 7000 + n
            status = STATUSES[n % len(STATUSES)]
            result = {"city": "Kraków"} if n == 3 else None
            _insert(conn, "run", task_id=task_id, agent_id="a", status=status, sequence=2, round=1,
                    result=json.dumps(result, ensure_ascii=False), created_at=n, updated_at=n, handler_set="saved")  # fmt: skip
            for seq, (verdict, code) in enumerate([("applied", 200), ("bad_signature", 401)]):
                _insert(conn, "delivery", id=2 * n + seq, received_at=n, webhook_id=f"m{n}-{seq}", headers="{}",
                        body=json.dumps({"task_id": task_id, "x": seq}).encode(), verdict=verdict, message="",
                        answered_status=code, task_id=task_id, body_truncated=0, console_made=0)  # fmt: skip
            _insert(conn, "round", id=n + 1, task_id=task_id, agent_id="a", round=1, state="pending", opened_at=n,
                    message="")  # fmt: skip
            for position, call in enumerate(("c1", "c2")):
                _insert(conn, "tool_call", round_id=n + 1, tool_call_id=call, name="get_weather",
                        arguments=json.dumps({"city": "Oslo"}), position=position)  # fmt: skip
            output = "Schnee in MÜNCHEN" if n == 7 else "dry"
            _insert(conn, "tool_result", answered_kind="person", answered_user="ci", round_id=n + 1,
                    tool_call_id="c2", output=output, is_error=0, created_at=n)  # fmt: skip
            _insert(conn, "draft", answered_kind="rules", answered_version=2, round_id=n + 1, tool_call_id="c1",
                    mode="suggest", output="7 °C", is_error=0, note="", logs="", duration_ms=1.5, created_at=n,
                    as_json=0)  # fmt: skip
            _insert(conn, "outbox", answered_kind="person", answered_user="ci", round_id=n + 1, task_id=task_id,
                    agent_id="a", body="{}", idempotency_key=f"k{n}", sources="{}", state="sent", attempts=1,
                    next_attempt_at=n, last_error="", created_at=n)  # fmt: skip
            for seq, moved in enumerate(("running", "awaiting_tool_calls"), start=1):
                _insert(conn, "event", task_id=task_id, at=n + seq, kind="state", summary=f"sequence {seq}: {moved}",
                        delivery_id=2 * n, console_made=0)  # fmt: skip
            _insert(conn, "run", task_id=8000 + n, agent_id="b", status=status, sequence=1, created_at=n,
                    updated_at=n, handler_set="saved")  # fmt: skip
        _insert(conn, "handler", id=1, agent_id="a", tool_name="get_weather", kind="rules", mode="suggest",
                spec=json.dumps({"rules": []}), behaviour="{}", version=3, updated_at=3)  # fmt: skip
        for version in (1, 2, 3):
            _insert(conn, "handler_version", handler_id=1, version=version, kind="rules", mode="suggest",
                    spec="{}", behaviour="{}", saved_at=version, note="")  # fmt: skip
        _insert(conn, "user", name="admin", role="admin", password_hash="$argon2id$x", created_at=1)
        _insert(conn, "user", name="ops", role="answerer", password_hash="", created_at=2)
        _insert(conn, "apitoken", name="ci", role="answerer", token_hash="h", prefix="td_ab", created_at=1,
                created_by="admin")  # fmt: skip
        _insert(conn, "setting", key="webhook_secret", value="whsec_kept")
        _insert(conn, "audit", at=1, who="admin", action="handler_saved", detail="get_weather v3")
        _insert(conn, "agent", agent_id="a", name="A", description="", tools="[]", inputs="[]", synced_at=1)
        _insert(conn, "sim_run", task_id=7000, agent_id="a", state="completed", status="{}", inputs="{}",
                outputs="{}", errors="{}", next_step=0, calls="{}", used_ids="[]", deadline=0, updated_at=1)  # fmt: skip


def _insert(conn: sqlite3.Connection, table: str, **values: Any) -> None:
    columns = ", ".join(f'"{name}"' for name in values)
    conn.execute(f'INSERT INTO "{table}" ({columns}) VALUES ({", ".join("?" * len(values))})', tuple(values.values()))


def _counts(path: Path) -> dict[str, int]:
    with sqlite3.connect(path) as conn:
        return {table: conn.execute(f'SELECT count(*) FROM "{table}"').fetchone()[0] for table in FILLED}


def _found(engine: Any, q: str) -> list[int]:
    runs, _total = search_runs(engine=engine, where=RunFilter(q=q, sort="task_id", descending=False))
    return [run.task_id for run in runs]


def _schema(path: Path) -> dict[str, Any]:
    """Every table's columns and keys, every index's columns and condition, every trigger's text (spaces folded);
    ``alembic_version`` left out."""
    with sqlite3.connect(path) as conn:
        rows = conn.execute(
            "SELECT type, name, tbl_name, sql FROM sqlite_master WHERE tbl_name != 'alembic_version' ORDER BY name"
        ).fetchall()
        shape: dict[str, Any] = {}
        for kind, name, table, sql in rows:
            if kind == "table":
                columns = conn.execute(f'PRAGMA table_info("{name}")').fetchall()
                keys = conn.execute(f'PRAGMA foreign_key_list("{name}")').fetchall()
                shape[name] = (kind, columns, [key[2:] for key in keys])
            elif kind == "index":
                columns = conn.execute(f'PRAGMA index_info("{name}")').fetchall()
                where = re.search(r"\bWHERE\b.*", sql or "")
                shape[name] = (kind, table, columns, where and where.group(0))
            else:
                shape[name] = (kind, table, " ".join((sql or "").split()))
    return shape
