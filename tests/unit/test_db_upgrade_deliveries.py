"""A database written before body lengths and console-made marks: opened by this version, its deliveries and
timelines read as before, and refused lines older versions put on a run's timeline are not shown."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from app.db import make_engine
from app.services.deliveries import DeliveryFilter, get_delivery, list_deliveries
from app.services.runs import get_run

OLD_SCHEMA = """
CREATE TABLE delivery (
    id INTEGER NOT NULL, received_at FLOAT NOT NULL, webhook_id VARCHAR, headers JSON NOT NULL, body BLOB NOT NULL,
    verdict VARCHAR NOT NULL, message VARCHAR NOT NULL, answered_status INTEGER NOT NULL, task_id INTEGER,
    sequence INTEGER, status VARCHAR, replay_of INTEGER, PRIMARY KEY (id)
);
CREATE TABLE event (
    id INTEGER NOT NULL, task_id INTEGER NOT NULL, at FLOAT NOT NULL, kind VARCHAR NOT NULL, summary VARCHAR NOT NULL,
    delivery_id INTEGER, round_id INTEGER, PRIMARY KEY (id)
);
CREATE TABLE run (
    task_id INTEGER NOT NULL, agent_id VARCHAR NOT NULL, status VARCHAR NOT NULL, sequence INTEGER NOT NULL,
    round INTEGER, environment VARCHAR, string_inputs JSON, result JSON, error JSON, started_by VARCHAR,
    created_at FLOAT NOT NULL, updated_at FLOAT NOT NULL, replay_of INTEGER, replay_until INTEGER,
    PRIMARY KEY (task_id)
);
INSERT INTO run VALUES (7701, 'a', 'running', 1, NULL, NULL, NULL, NULL, NULL, 'platform', 1, 1, NULL, NULL);
INSERT INTO delivery VALUES (1, 1, 'm1', '{}', CAST('{"task_id": 7701}' AS BLOB), 'applied', '', 200, 7701, 1,
    'running', NULL);
INSERT INTO delivery VALUES (2, 2, 'm2', '{}', CAST('{"task_id": 7701, "x": 1}' AS BLOB), 'bad_signature', 'no', 401,
    7701, NULL, NULL, NULL);
INSERT INTO event VALUES (1, 7701, 1, 'state', 'sequence 1: running', 1, NULL);
INSERT INTO event VALUES (2, 7701, 2, 'refused', 'delivery refused (bad_signature, answered 401): no', 2, NULL);
"""


def test_open_old_database_lists_deliveries_and_hides_refused_lines(tmp_path: Path):
    path = tmp_path / "old.db"
    with sqlite3.connect(path) as conn:
        conn.executescript(OLD_SCHEMA)

    engine = make_engine(f"sqlite:///{path}")

    page = list_deliveries(engine=engine, where=DeliveryFilter(task_id=7701), admin=True)
    listed, total = page.deliveries, page.total
    assert total == 2
    assert [(d.verdict, d.task_id_claimed, d.body_truncated, d.console_made, d.body_note) for d in listed] == [
        ("bad_signature", True, False, False, ""),
        ("applied", False, False, False, ""),
    ]
    assert get_delivery(engine=engine, delivery_id=1, admin=True).body == '{"task_id": 7701}'
    events = get_run(engine=engine, task_id=7701).events
    assert [(e.kind, e.console_made) for e in events] == [("state", False)]
