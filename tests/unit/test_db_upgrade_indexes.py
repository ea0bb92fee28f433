"""A database made before the Overview's indexes and run counts: opened by this version, it gets the indexes on
``delivery.received_at`` and ``round.submitted_at`` and counts of the runs it already holds, and the Overview
reads the same figures as before."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from sqlalchemy import text

from app.db import make_engine
from app.services.overview import overview

NOW = 1_800_000_030.0
OLD_SCHEMA = """
CREATE TABLE delivery (
    id INTEGER NOT NULL, received_at FLOAT NOT NULL, webhook_id VARCHAR, headers JSON NOT NULL, body BLOB NOT NULL,
    verdict VARCHAR NOT NULL, message VARCHAR NOT NULL, answered_status INTEGER NOT NULL, task_id INTEGER,
    sequence INTEGER, status VARCHAR, replay_of INTEGER, PRIMARY KEY (id)
);
CREATE TABLE run (
    task_id INTEGER NOT NULL, agent_id VARCHAR NOT NULL, status VARCHAR NOT NULL, sequence INTEGER NOT NULL,
    round INTEGER, environment VARCHAR, string_inputs JSON, result JSON, error JSON, started_by VARCHAR,
    created_at FLOAT NOT NULL, updated_at FLOAT NOT NULL, replay_of INTEGER, replay_until INTEGER,
    PRIMARY KEY (task_id)
);
CREATE TABLE round (
    id INTEGER NOT NULL, task_id INTEGER NOT NULL, agent_id VARCHAR NOT NULL, round INTEGER NOT NULL,
    state VARCHAR NOT NULL, expires_at VARCHAR, opened_at FLOAT NOT NULL, submitted_at FLOAT,
    acknowledged_at FLOAT, message VARCHAR NOT NULL, PRIMARY KEY (id), UNIQUE (task_id, round)
);
INSERT INTO run VALUES (1, 'a', 'completed', 4, NULL, NULL, NULL, NULL, NULL, 'platform', 1, 1, NULL, NULL);
INSERT INTO run VALUES (2, 'a', 'completed', 4, NULL, NULL, NULL, NULL, NULL, 'platform', 1, 1, NULL, NULL);
INSERT INTO run VALUES (3, 'a', 'awaiting_tool_calls', 2, 1, NULL, NULL, NULL, NULL, 'platform', 1, 1, NULL, NULL);
INSERT INTO delivery VALUES (1, 1800000000, 'm1', '{}', X'7B7D', 'applied', '', 200, 1, 1, 'running', NULL);
INSERT INTO delivery VALUES (2, 1799990000, 'm2', '{}', X'7B7D', 'bad_signature', 'no', 401, 1, NULL, NULL, NULL);
INSERT INTO delivery VALUES (3, 1700000000, 'm3', '{}', X'7B7D', 'applied', '', 200, 2, 1, 'running', NULL);
"""


def _indexes(path: Path, table: str) -> set[str]:
    with sqlite3.connect(path) as conn:
        return {row[1] for row in conn.execute(f"PRAGMA index_list({table})")}


def test_open_old_database_adds_indexes_and_keeps_overview_figures(tmp_path: Path):
    path = tmp_path / "old.db"
    with sqlite3.connect(path) as conn:
        conn.executescript(OLD_SCHEMA)
    assert "ix_delivery_received_at" not in _indexes(path, "delivery")

    engine = make_engine(f"sqlite:///{path}")

    assert "ix_delivery_received_at" in _indexes(path, "delivery")
    assert "ix_round_submitted_at" in _indexes(path, "round")
    got = overview(engine=engine, now=NOW)
    assert got.runs_by_status == {"awaiting_tool_calls": 1, "completed": 2}
    assert (got.runs_total, got.deliveries_last_hour, got.refused_last_hour) == (3, 1, 0)
    assert {verdict: n for verdict, n in got.deliveries_by_verdict.items() if n} == {"applied": 1, "bad_signature": 1}


def test_run_counts_follow_inserts_status_changes_and_deletes(tmp_path: Path):
    path = tmp_path / "old.db"
    with sqlite3.connect(path) as conn:
        conn.executescript(OLD_SCHEMA)
    engine = make_engine(f"sqlite:///{path}")
    make_engine(f"sqlite:///{path}")  # a second start counts nothing twice

    with engine.begin() as conn:
        conn.execute(text("UPDATE run SET status = 'completed' WHERE task_id = 3"))
        conn.execute(text("UPDATE run SET sequence = 5 WHERE task_id = 3"))  # no status change: no count change
        conn.execute(
            text(
                "INSERT INTO run (task_id, agent_id, status, sequence, created_at, updated_at, handler_set) "
                "VALUES (4, 'a', 'my_own_status', 1, 1, 1, 'saved')"
            )
        )
        conn.execute(text("DELETE FROM run WHERE task_id = 1"))

    got = overview(engine=engine, now=NOW)
    assert got.runs_by_status == {"completed": 2, "my_own_status": 1}
    assert got.runs_total == 3
