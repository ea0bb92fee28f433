"""A database made before the runs search had its index: the first start builds and fills it, once."""

from __future__ import annotations

import time
from pathlib import Path

from sqlalchemy import Engine, text
from sqlmodel import Session, SQLModel, create_engine

from app.answerers import Answerer
from app.db import make_engine
from app.models import Round, Run, ToolCallRow, ToolResultRow
from app.services.runs import RunFilter, search_runs


def _older_database(path: Path) -> None:
    """The schema and rows as a version without the index left them: no ``run_fts``, no triggers."""
    engine = create_engine(f"sqlite:///{path}")
    SQLModel.metadata.create_all(engine)
    now = time.time()
    with Session(engine) as session:
        session.add(
            Run(task_id=9101, agent_id="a", status="completed", result="Trip to Kraków", created_at=now, updated_at=now)
        )
        session.add(Run(task_id=9102, agent_id="a", status="awaiting_tool_calls", created_at=now + 1, updated_at=now))
        session.add(Round(id=1, task_id=9102, agent_id="a", round=1, opened_at=now))
        session.add(
            ToolCallRow(round_id=1, tool_call_id="c1", name="get_weather", arguments={"city": "Oslo"}, position=0)
        )
        session.add(
            ToolResultRow(round_id=1, tool_call_id="c1", output="Schnee in MÜNCHEN", created_at=now, **_person())
        )
        session.commit()
    engine.dispose()


def _person() -> dict[str, object]:
    return dict(Answerer.person("ci").columns())


def _found(engine: Engine, q: str) -> tuple[list[int], int]:
    runs, total = search_runs(engine=engine, where=RunFilter(q=q, sort="task_id", descending=False))
    return [run.task_id for run in runs], total


def test_open_older_database_backfills_search_index(tmp_path: Path):
    path = tmp_path / "older.db"
    _older_database(path)

    engine = make_engine(f"sqlite:///{path}")

    assert _found(engine, "KRAKÓW") == ([9101], 1)
    assert _found(engine, "weather") == ([9102], 1)
    assert _found(engine, '"Oslo"') == ([9102], 1)
    assert _found(engine, "schnee in münchen") == ([9102], 1)


def test_open_database_again_keeps_one_index_entry_per_run(tmp_path: Path):
    path = tmp_path / "older.db"
    _older_database(path)
    url = f"sqlite:///{path}"
    make_engine(url).dispose()
    engine = make_engine(url)  # a second start: the index is there and is not filled again

    with engine.connect() as conn:
        entries = conn.execute(text("SELECT count(*) FROM run_fts")).scalar_one()
    assert entries == 2
    assert _found(engine, "Oslo") == ([9102], 1)
