"""Rows read through the driver's cursor (``app.services.fast_sql.read_row``, the responder's path) come back as
SQLAlchemy reads them, on SQLite and on PostgreSQL: JSON decoded, enums as their members, booleans and floats as
Python's, nulls as ``None``."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy import Engine
from sqlmodel import Session, select

from app.db import make_engine, read_session
from app.models import Handler
from app.services.fast_sql import cursor_of, read_row
from app.states import HandlerKind, HandlerMode

HANDLERS = Handler.__table__  # type: ignore[attr-defined]
COLUMNS = ("id", "agent_id", "tool_name", "kind", "mode", "spec", "behaviour", "version", "updated_at")


@pytest.fixture
def engine(database_url: str) -> Iterator[Engine]:
    engine = make_engine(database_url)
    yield engine
    engine.dispose()


@pytest.mark.parametrize(
    ("spec", "behaviour"),
    [
        ({"output": "Ørsted — 東京", "is_error": True, "n": 1.5, "list": [None, False]}, {}),
        ({"rules": []}, None),
        ("a plain string", {"latency_ms": 0}),
    ],
)
def test_raw_row_reads_as_the_orm_reads_it(engine: Engine, spec: object, behaviour: object):
    with Session(engine) as session:
        session.add(
            Handler(
                agent_id="agent", tool_name="tool", kind=HandlerKind.RULES, mode=HandlerMode.AUTO,
                spec=spec, behaviour=behaviour, version=3, updated_at=1700000000.25,
            )
        )  # fmt: skip
        session.commit()
        orm = session.exec(select(Handler)).one()
        expected = {name: getattr(orm, name) for name in COLUMNS}
    with read_session(engine) as session:
        conn = session.connection()
        row = cursor_of(conn).execute(f"SELECT {', '.join(COLUMNS)} FROM handler").fetchone()
        got = read_row(conn.dialect, HANDLERS, COLUMNS, row)
    assert got == expected
    assert got["kind"] is HandlerKind.RULES and got["mode"] is HandlerMode.AUTO
    assert isinstance(got["updated_at"], float) and isinstance(got["version"], int)
