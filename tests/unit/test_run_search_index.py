"""The runs search's index on a database: built and filled once on a database made before it, older triggers
replaced, and the marks the triggers leave indexed by the step."""

from __future__ import annotations

import asyncio
import json
import sqlite3
import time
from pathlib import Path

import pytest
from sqlalchemy import Engine, text
from sqlmodel import Session, create_engine

from app import migrations
from app.answerers import Answerer
from app.db import make_engine
from app.migrations import baseline
from app.models import Round, Run, ToolCallRow, ToolResultRow
from app.services import run_index, run_search
from app.services.ingest import Received, ingest_batch
from app.services.runs import RunFilter, search_runs
from app.webhooks.body import ReadBody
from tests.builders import SECRET, make_status, sign, wait_for


def _older_database(path: Path) -> None:
    """The schema and rows as a version without the index left them: no ``run_fts``, no triggers, no
    ``alembic_version`` (the tables of the baseline revision)."""
    engine = create_engine(f"sqlite:///{path}")
    baseline.metadata.create_all(engine)
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


def _set_result(engine: Engine, task_id: int, result: str) -> None:
    with Session(engine) as session:
        run = session.get(Run, task_id)
        assert run is not None
        run.result = result
        session.add(run)
        session.commit()


def test_indexing_step_clears_marks_and_index_then_matches(tmp_path: Path):
    """A committed change is marked and found straight away (the marked run read directly, case folded as the
    index folds); the step indexes it and clears its mark; the new text is found, the old one is not, before
    and after the step."""
    path = tmp_path / "older.db"
    _older_database(path)
    engine = make_engine(f"sqlite:///{path}")

    _set_result(engine, 9101, "Ŀodging in ΣΊΣΥΦΟΣ")
    assert run_search.marked(engine) == 1
    assert _found(engine, "ŀodging in σίσυφος") == ([9101], 1)
    assert _found(engine, "kraków") == ([], 0)

    assert run_search.index_marked(engine) == 1
    assert run_search.marked(engine) == 0
    assert run_search.index_marked(engine) == 0
    assert _found(engine, "ŀodging in σίσυφος") == ([9101], 1)
    assert _found(engine, "kraków") == ([], 0)
    with engine.connect() as conn:
        bodies = conn.execute(text("SELECT body FROM run_fts WHERE rowid = 9101")).scalars().all()
    assert bodies == ["Ŀodging in ΣΊΣΥΦΟΣ"]


def test_fold_is_the_tokenizers():
    """Characters where Python's own lower case differs from SQLite's tables fold as the index folds them."""
    for letter in ("µ", "ſ", "Ꭰ", "ς", "Ϳ", "İ", "ẞ", "Σ", "É"):
        assert run_search.fold(letter * 3) == _index_fold(letter * 3), letter


def _index_fold(value: str) -> str:
    """The one trigram the index makes of ``value`` (three characters)."""
    db = sqlite3.connect(":memory:")
    try:
        db.execute(f"CREATE VIRTUAL TABLE f USING fts5(body, tokenize='{run_search.TOKENIZER}')")
        db.execute("CREATE VIRTUAL TABLE v USING fts5vocab(f, 'row')")
        db.execute("INSERT INTO f(body) VALUES (?)", (value,))
        [(term,)] = db.execute("SELECT term FROM v").fetchall()
        return str(term)
    finally:
        db.close()


_OLD_TRIGGER_NAMES = [f"run_fts_{t}_{c}" for t in ("call", "result", "run") for c in ("insert", "update", "delete")]


def test_open_database_with_per_change_triggers_replaces_them(tmp_path: Path):
    """A database whose index an older version kept with triggers that rewrote a run's document in every
    change's transaction: the next start drops them and makes the marking ones; the index is kept."""
    path = tmp_path / "older.db"
    _older_database(path)
    url = f"sqlite:///{path}"
    migrations.upgrade(make_engine(url, migrate=False), "0001_baseline")
    older = create_engine(url)
    with older.begin() as conn:  # as that version left it: its triggers, no marks
        for name in _triggers(older, "run_fts_mark_%"):
            conn.exec_driver_sql(f"DROP TRIGGER {name}")
        conn.exec_driver_sql("DROP TABLE run_fts_stale")
        conn.exec_driver_sql("DROP TABLE alembic_version")  # made before migrations
        for name in _OLD_TRIGGER_NAMES:
            table = {"call": "tool_call", "result": "tool_result", "run": "run"}[name.split("_")[2]]
            when = name.rsplit("_", 1)[1].upper()
            conn.exec_driver_sql(
                f"CREATE TRIGGER {name} AFTER {when} ON {table} BEGIN DELETE FROM run_fts WHERE rowid = -1; END"
            )
    older.dispose()

    engine = make_engine(url)

    assert _triggers(engine, "run_fts_%") == sorted(n.replace("run_fts_", "run_fts_mark_") for n in _OLD_TRIGGER_NAMES)
    assert _found(engine, "Oslo") == ([9102], 1)  # kept
    _set_result(engine, 9102, "Ålesund in the evening")
    assert run_search.marked(engine) == 1
    assert _found(engine, "ÅLESUND") == ([9102], 1)
    run_search.index_marked(engine)
    assert _found(engine, "ÅLESUND") == ([9102], 1)


def _triggers(engine: Engine, like: str) -> list[str]:
    with engine.connect() as conn:
        rows = conn.exec_driver_sql("SELECT name FROM sqlite_master WHERE type = 'trigger' AND name LIKE ?", (like,))
        return sorted(str(name) for (name,) in rows)


def test_batch_of_deliveries_for_many_runs_indexes_each_run_once(tmp_path: Path):
    """One writer's batch with several deliveries for each of many runs (a round of calls, then results of
    later statuses): each run is marked once, the step rewrites each once, and each is then found by its
    latest text only."""
    engine = make_engine(f"sqlite:///{tmp_path / 'batch.db'}")
    task_ids = list(range(7001, 7041))
    requests = []
    for task_id in reversed(task_ids):  # runs out of task_id order, as a batch holds them
        calls = [{"id": f"c{task_id}", "name": "find_room", "arguments": {"code": f"R-{task_id}-x"}}]
        bodies = [
            make_status(task_id, sequence=2, tool_calls=calls),
            make_status(task_id, status="running", sequence=3, result=f"first-{task_id}-draft"),
            make_status(task_id, status="completed", sequence=4, result=f"final-{task_id}-text"),
        ]
        for n, body in enumerate(bodies):
            data = json.dumps(body).encode()
            requests.append(Received(body=ReadBody.whole(data), headers=sign(data, msg_id=f"m{task_id}-{n}")))
    ingest_batch(engine=engine, secret=SECRET, take=lambda: requests)

    assert run_search.marked(engine) == len(task_ids)
    assert run_search.index_marked(engine, cap=1000) == len(task_ids)
    with engine.connect() as conn:
        rowids = conn.execute(text("SELECT rowid FROM run_fts ORDER BY rowid")).scalars().all()
    assert rowids == task_ids
    assert run_search.marked(engine) == 0
    assert _found(engine, "FINAL-7017-TEXT") == ([7017], 1)
    assert _found(engine, "r-7023-x") == ([7023], 1)
    assert _found(engine, "first-7017-draft") == ([], 0)


async def test_indexing_waits_while_deliveries_wait_for_the_writer(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """While the webhook's writer has deliveries waiting (``busy``), the background step waits (up to
    ``BUSY_DEFER``) and the changed run is found meanwhile, read directly; once the writer is idle it is indexed."""
    monkeypatch.setattr(run_index, "BUSY_DEFER", 60.0)  # only the writer going idle ends the wait in this test
    path = tmp_path / "older.db"
    _older_database(path)
    engine = make_engine(f"sqlite:///{path}")
    busy = [True]
    indexer = run_index.SearchIndexer(engine=engine, busy=lambda: busy[0])
    indexer.start()
    try:
        _set_result(engine, 9101, "Lodging in Porto")
        indexer.kick()
        await asyncio.sleep(run_index.GATHER + 10 * run_index.BUSY_STEP)

        assert run_search.marked(engine) == 1
        assert _found(engine, "porto") == ([9101], 1)
        busy[0] = False
        await wait_for(lambda: run_search.marked(engine) == 0)
        assert _found(engine, "porto") == ([9101], 1)
    finally:
        await indexer.aclose()
