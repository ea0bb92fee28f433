"""The database file: private modes for the file and its WAL companions, and JSON that SQLite can read back."""

from __future__ import annotations

import stat
from pathlib import Path

from sqlalchemy import text
from sqlmodel import Session

from app.db import make_engine
from app.models import Setting


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_make_engine_database_wal_and_shm_are_0600(tmp_path: Path):
    path = tmp_path / "td.db"
    engine = make_engine(f"sqlite:///{path}")
    with Session(engine) as session:
        session.add(Setting(key="k", value="secret"))
        session.commit()
        companions = [path.with_name("td.db-wal"), path.with_name("td.db-shm")]
        assert all(p.exists() for p in companions)  # WAL mode keeps them while a connection is open
        assert {p.name: _mode(p) for p in [path, *companions]} == {
            "td.db": 0o600,
            "td.db-wal": 0o600,
            "td.db-shm": 0o600,
        }
    engine.dispose()


def test_make_engine_tightens_files_left_open_by_an_older_version(tmp_path: Path):
    path = tmp_path / "td.db"
    for name in ("td.db", "td.db-wal"):
        (tmp_path / name).touch(mode=0o644)
        (tmp_path / name).chmod(0o644)
    engine = make_engine(f"sqlite:///{path}")
    assert (_mode(path), _mode(tmp_path / "td.db-wal")) == (0o600, 0o600)
    engine.dispose()


def test_json_column_non_finite_floats_stored_as_readable_json(tmp_path: Path):
    from app.models import Agent

    engine = make_engine(f"sqlite:///{tmp_path / 'td.db'}")
    with Session(engine) as session:
        session.add(
            Agent(agent_id="a", name="A", tools=[{"x": float("nan"), "y": [float("inf"), -1e400]}], synced_at=0)
        )
        session.commit()
    with engine.connect() as conn:
        stored = conn.execute(text("SELECT json_extract(tools, '$[0]') FROM agent")).scalar_one()
    assert stored == '{"x":"NaN","y":["Infinity","-Infinity"]}'
    engine.dispose()
