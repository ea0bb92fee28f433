"""A database written before answerers were data: opened by this version, it shows who answered as before."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

from sqlmodel import select

from app.answerers import Answerer
from app.db import make_engine, read_session, write_session
from app.models import Draft, OutboxItem, ToolResultRow
from app.services.rounds import get_round
from app.states import AnswererKind, HandlerKind

OLD_SCHEMA = """
CREATE TABLE round (
    id INTEGER NOT NULL, task_id INTEGER NOT NULL, agent_id VARCHAR NOT NULL, round INTEGER NOT NULL,
    state VARCHAR NOT NULL, expires_at VARCHAR, opened_at FLOAT NOT NULL, submitted_at FLOAT,
    acknowledged_at FLOAT, answered_by VARCHAR, message VARCHAR NOT NULL,
    PRIMARY KEY (id), UNIQUE (task_id, round)
);
CREATE TABLE draft (
    id INTEGER NOT NULL, round_id INTEGER NOT NULL, tool_call_id VARCHAR NOT NULL, mode VARCHAR NOT NULL,
    output VARCHAR NOT NULL, is_error BOOLEAN NOT NULL, answered_by VARCHAR NOT NULL, note VARCHAR NOT NULL,
    logs VARCHAR NOT NULL, duration_ms FLOAT NOT NULL, created_at FLOAT NOT NULL, PRIMARY KEY (id)
);
CREATE TABLE outbox (
    id INTEGER NOT NULL, round_id INTEGER NOT NULL, task_id INTEGER NOT NULL, agent_id VARCHAR NOT NULL,
    body JSON NOT NULL, idempotency_key VARCHAR NOT NULL, answered_by VARCHAR NOT NULL, sources JSON NOT NULL,
    state VARCHAR NOT NULL, attempts INTEGER NOT NULL, next_attempt_at FLOAT NOT NULL, last_error VARCHAR NOT NULL,
    created_at FLOAT NOT NULL, sent_at FLOAT, PRIMARY KEY (id)
);
CREATE TABLE tool_result (
    id INTEGER NOT NULL, round_id INTEGER NOT NULL, tool_call_id VARCHAR NOT NULL, output VARCHAR NOT NULL,
    is_error BOOLEAN NOT NULL, answered_by VARCHAR NOT NULL, created_at FLOAT NOT NULL,
    PRIMARY KEY (id), FOREIGN KEY(round_id) REFERENCES round (id)
);
"""
ROUNDS = [
    (1, 7001, "submitted", "handlers (auto)"),
    (2, 7002, "submitted", "ci"),
    (3, 7003, "submitted", "replay of run 7001"),
    (4, 7004, "pending", None),
]
RESULTS = [
    (1, "c1", "rules handler v3"),
    (1, "c2", "person (console)"),
    (2, "c3", "ci"),
    (3, "c4", "replay of run 7001"),
]


def test_open_old_database_shows_who_answered_as_before(tmp_path: Path):
    path = _old_database(tmp_path)

    engine = make_engine(f"sqlite:///{path}")

    shown = {
        number: (row.answered_by, [(r.tool_call_id, r.answered_by) for r in row.results])
        for number in (1, 2, 3, 4)
        if (row := get_round(engine=engine, round_id=number))
    }
    assert shown == {
        1: ("handlers (auto)", [("c1", "rules handler v3"), ("c2", "person: console")]),
        2: ("person: ci", [("c3", "person: ci")]),
        3: ("replay of run 7001", [("c4", "replay of run 7001")]),
        4: (None, []),
    }
    [draft] = get_round(engine=engine, round_id=4).drafts
    assert (draft.answered_kind, draft.answered_version, draft.answered_by) == (
        AnswererKind.PYTHON,
        2,
        "python handler v2",
    )


def test_open_old_database_keeps_pending_submission_answerers(tmp_path: Path):
    engine = make_engine(f"sqlite:///{_old_database(tmp_path)}")

    with read_session(engine) as session:
        item = session.exec(select(OutboxItem)).one()
    assert item.answerer() == Answerer.person("console")
    assert {call: Answerer.model_validate(source) for call, source in item.sources.items()} == {
        "c9": Answerer.handler(HandlerKind.STATIC, 1)
    }


def test_open_old_database_then_store_new_answers(tmp_path: Path):
    path = _old_database(tmp_path)
    make_engine(f"sqlite:///{path}")
    engine = make_engine(f"sqlite:///{path}")  # a second start finds nothing left to upgrade

    with write_session(engine) as session:
        session.add(
            ToolResultRow(**Answerer.person("ops").columns(), round_id=4, tool_call_id="c9", output="x", created_at=5.0)
        )
        session.add(
            Draft(
                **Answerer.replay(7001).columns(),
                round_id=4,
                tool_call_id="c8",
                mode="replay",
                output="y",
                created_at=5.0,
            )
        )

    assert [(r.tool_call_id, r.answered_by) for r in get_round(engine=engine, round_id=4).results] == [
        ("c9", "person: ops")
    ]


def _old_database(tmp_path: Path) -> Path:
    path = tmp_path / "old.db"
    with sqlite3.connect(path) as conn:
        conn.executescript(OLD_SCHEMA)
        conn.executemany(
            "INSERT INTO round (id, task_id, agent_id, round, state, opened_at, submitted_at, answered_by, message) "
            "VALUES (?, ?, 'agent', 1, ?, 1.0, 2.0, ?, '')",
            ROUNDS,
        )
        conn.executemany(
            "INSERT INTO tool_result (round_id, tool_call_id, output, is_error, answered_by, created_at) "
            "VALUES (?, ?, 'out', 0, ?, 2.0)",
            RESULTS,
        )
        conn.execute(
            "INSERT INTO draft (round_id, tool_call_id, mode, output, is_error, answered_by, note, logs, duration_ms, "
            "created_at) VALUES (4, 'c9', 'suggest', 'x', 0, 'python handler v2', '', '', 1.0, 2.0)"
        )
        conn.execute(
            "INSERT INTO outbox (round_id, task_id, agent_id, body, idempotency_key, answered_by, sources, state, "
            "attempts, next_attempt_at, last_error, created_at) VALUES (4, 7004, 'agent', '{}', 'k', "
            "'person (console)', ?, 'pending', 1, 3.0, '', 2.0)",
            (json.dumps({"c9": "static handler v1"}),),
        )
    return path
