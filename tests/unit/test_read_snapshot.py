"""A read session sees one snapshot: a commit made while it reads does not show half-way through (on SQLite and on
PostgreSQL, whose default isolation takes a snapshot per statement)."""

from __future__ import annotations

from sqlalchemy import text

from app.db import make_engine, read_session, write_connection

ADD = text(
    "INSERT INTO agent (agent_id, name, description, tools, inputs, synced_at) VALUES (:id, '', '', '[]', '[]', 0)"
)


def test_a_commit_during_a_read_session_is_not_seen_until_the_next_one(database_url: str):
    engine = make_engine(database_url)
    try:
        with write_connection(engine) as conn:
            conn.execute(ADD, {"id": "a1"})
        count = text("SELECT count(*) FROM agent")
        with read_session(engine) as session:
            before = session.execute(count).scalar_one()
            with write_connection(engine) as conn:  # another connection commits meanwhile
                conn.execute(ADD, {"id": "a2"})
            during = session.execute(count).scalar_one()
        with read_session(engine) as session:
            after = session.execute(count).scalar_one()
    finally:
        engine.dispose()
    assert (before, during, after) == (1, 1, 2)
