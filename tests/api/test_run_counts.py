"""Run counts kept by triggers (``app.run_counts``), on SQLite and on PostgreSQL: the Overview's runs per status and
the runs list's total follow every new run, status change and delete, and stay the same once PostgreSQL's added
rows are folded into one per status."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from alembic import command
from sqlalchemy import Engine

from app import migrations, run_counts
from app.db import make_engine
from app.services.ingest import ingest_delivery
from app.services.overview import overview
from app.services.runs import RunFilter, count_runs, search_runs
from tests.builders import SECRET, encode, make_status, sign


@pytest.fixture
def engine(database_url: str) -> Iterator[Engine]:
    made = make_engine(database_url)
    yield made
    made.dispose()


def deliver(engine: Engine, task_id: int, status: str, sequence: int) -> None:
    raw = encode(make_status(task_id, status=status, sequence=sequence))
    ingest_delivery(engine=engine, secret=SECRET, body=raw, headers=sign(raw, msg_id=f"msg_{task_id}_{sequence}"))


def shown(engine: Engine) -> tuple[dict[str, int], int, int]:
    """Runs per status on the Overview, the runs list's total, and its total of completed runs."""
    return (
        overview(engine=engine).runs_by_status,
        count_runs(engine=engine, where=RunFilter()),
        count_runs(engine=engine, where=RunFilter(status="completed")),
    )


def test_run_counts_follow_new_runs_status_changes_and_deletes(engine: Engine):
    for task_id in (101, 102, 103):
        deliver(engine, task_id, "running", 1)
    deliver(engine, 101, "completed", 2)
    deliver(engine, 102, "completed", 2)
    deliver(engine, 102, "failed", 1)  # older: history, the run stays completed
    deliver(engine, 104, "awaiting_tool_calls", 1)

    assert shown(engine) == ({"awaiting_tool_calls": 1, "running": 1, "completed": 2}, 4, 2)

    with engine.begin() as conn:
        conn.exec_driver_sql("DELETE FROM run WHERE task_id IN (101, 104)")

    assert shown(engine) == ({"running": 1, "completed": 1}, 2, 1)


def test_run_counts_same_after_folding(engine: Engine, monkeypatch: pytest.MonkeyPatch):
    """PostgreSQL folds the added rows into one per status once there are more than ``FOLD_AT``: the counts read
    before, at and after the fold are the same (SQLite keeps one row per status anyway)."""
    monkeypatch.setattr(run_counts, "FOLD_AT", 3)
    for task_id in range(201, 206):
        deliver(engine, task_id, "running", 1)
    for task_id in range(201, 204):
        deliver(engine, task_id, "completed", 2)
    expected = ({"running": 2, "completed": 3}, 5, 3)

    assert [shown(engine) for _ in range(3)] == [expected] * 3
    with engine.connect() as conn:
        rows = conn.exec_driver_sql("SELECT count(*) FROM run_count WHERE runs != 0").scalar_one()
    assert rows == 2  # one per status with runs: folded on PostgreSQL, updated in place on SQLite


def test_runs_stored_before_the_search_revision_are_counted_and_found(engine: Engine):
    """Revision ``0003_postgres_search`` on a database that already holds runs (PostgreSQL: the counts start from
    them and the search indexes hold them; SQLite: nothing changes)."""
    deliver(engine, 301, "running", 1)
    deliver(engine, 302, "running", 1)
    raw = encode(make_status(303, status="completed", sequence=2, result="Grüße aus Zürich"))
    ingest_delivery(engine=engine, secret=SECRET, body=raw, headers=sign(raw, msg_id="msg_303"))
    with engine.connect() as conn:  # back to before the search revision (and the later ones), the runs kept
        command.downgrade(migrations.config(conn), "0002_foreign_keys")

    migrations.upgrade(engine)

    assert migrations.current(engine) == migrations.head()
    assert shown(engine) == ({"running": 2, "completed": 1}, 3, 1)
    found = search_runs(engine=engine, where=RunFilter(q="GRÜSSE"))  # ß is not ss: nothing
    assert (found[1], search_runs(engine=engine, where=RunFilter(q="GRÜßE AUS"))[1]) == (0, 1)
