"""The migrations and the ``tooldesk db`` command on PostgreSQL (issue 9, item 2): a database made by them equals
the models, holds the platform's 64-bit ids, keeps the partial unique indexes partial, and several consoles starting
on one empty database at once migrate it once. The refusals at the end need no server and run on both passes."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata, produce_migrations, render_python_code
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Column, Integer, MetaData, text
from sqlalchemy.exc import IntegrityError

from app import migrations
from app.db import make_engine, write_session
from app.migrations.postgres import render_item
from app.models import Delivery, Run
from app.protocol import INT64_MAX
from tests import postgres
from tests.builders import free_port

ROOT = Path(__file__).resolve().parents[2]
ON_POSTGRESQL = pytest.mark.postgresql_only("the migrations on a PostgreSQL server")


@pytest.fixture
def empty_database(request: pytest.FixtureRequest, database_url: str) -> str:
    """The URL of a database on the test's cluster with nothing in it, not even ``alembic_version``."""
    cluster: postgres.Cluster = request.getfixturevalue("postgres_cluster")
    return cluster.url(cluster.empty_database())


@ON_POSTGRESQL
def test_models_equal_migrated_schema_on_postgresql(database_url: str):
    engine = make_engine(database_url)
    with engine.connect() as conn:
        options = {"include_name": migrations.include_name}
        assert compare_metadata(MigrationContext.configure(conn, opts=options), migrations.target_metadata()) == []
        kinds = conn.execute(
            text(
                "SELECT DISTINCT data_type FROM information_schema.columns WHERE table_schema = 'public' AND "
                "data_type LIKE '%int%'"
            )
        ).scalars()
        assert set(kinds) == {"bigint"}  # never PostgreSQL's 32-bit integer
    assert migrations.current(engine) == migrations.head()
    engine.dispose()


@ON_POSTGRESQL
def test_task_id_up_to_int64_max_is_stored_exactly(database_url: str):
    engine = make_engine(database_url)
    with write_session(engine) as session:
        session.add(Run(task_id=INT64_MAX, agent_id="a", status="running", sequence=INT64_MAX, created_at=1,
                        updated_at=1))  # fmt: skip
    with engine.connect() as conn:
        assert conn.execute(text("SELECT task_id, sequence FROM run")).one() == (INT64_MAX, INT64_MAX)
    engine.dispose()


@ON_POSTGRESQL
def test_webhook_id_unique_only_among_applied_deliveries(database_url: str):
    """``uq_delivery_webhook_id`` is partial on PostgreSQL as on SQLite: a refused delivery may share its
    webhook-id with a stored one (contract: the platform sends a delivery again with the same webhook-id)."""
    engine = make_engine(database_url)

    def delivery(verdict: str) -> Delivery:
        return Delivery(received_at=1, webhook_id="msg_1", headers={}, body=b"{}", verdict=verdict, message="",
                        answered_status=200)  # fmt: skip

    with write_session(engine) as session:
        session.add_all([delivery("applied"), delivery("bad_signature"), delivery("duplicate")])
    with pytest.raises(IntegrityError, match="uq_delivery_webhook_id"), write_session(engine) as session:
        session.add(delivery("history"))
    engine.dispose()


@ON_POSTGRESQL
def test_db_command_upgrades_an_empty_database_and_reports_revision(empty_database: str, tmp_path: Path):
    said = [_tooldesk(tmp_path, empty_database, "db", *args) for args in (["current"], ["upgrade"], ["current"])]

    assert [(done.returncode, done.stdout, done.stderr) for done in said] == [
        (0, "none: a new database, or one made before migrations\n", ""),
        (0, "", f"tooldesk db: made a new database at {migrations.head()}\n"),
        (0, f"{migrations.head()} (head)\n", ""),
    ]


@ON_POSTGRESQL
def test_consoles_starting_at_once_on_an_empty_database_migrate_it_once(empty_database: str, tmp_path: Path):
    """Each start migrates (``app.db.make_engine``); on PostgreSQL an advisory lock makes concurrent starts take
    turns, as ``BEGIN IMMEDIATE`` does on SQLite: without it the second fails on tables the first just made."""
    starts = [_tooldesk_process(tmp_path, empty_database, "db", "upgrade") for _ in range(3)]
    done = [(process.communicate(timeout=120)[1], process.returncode) for process in starts]

    assert [status for _err, status in done] == [0, 0, 0], done
    assert all(err.endswith(f" {migrations.head()}\n") for err, _status in done), done
    engine = make_engine(empty_database, migrate=False)
    assert migrations.current(engine) == migrations.head()
    engine.dispose()


def test_revision_writes_a_new_integer_column_as_bigint_on_postgresql(tmp_path: Path):
    """``tooldesk db revision`` (autogenerate against a scratch SQLite database) writes a new integer column with
    its PostgreSQL variant, or the column would be 32-bit there."""
    engine = make_engine(f"sqlite:///{tmp_path / 'scratch.db'}")
    changed = MetaData()
    for metadata in migrations.target_metadata():
        for table in metadata.tables.values():
            table.to_metadata(changed)
    changed.tables["run"].append_column(Column("new_count", Integer))

    with engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"include_name": migrations.include_name})
        code = render_python_code(produce_migrations(context, changed).upgrade_ops, render_item=render_item)
    engine.dispose()

    assert "sa.Column('new_count', sa.Integer().with_variant(sa.BigInteger(), \"postgresql\")" in code


@pytest.mark.parametrize("command", [(), ("db", "current")], ids=["serve", "db-current"])
def test_postgresql_unreachable_is_one_line_without_the_password(tmp_path: Path, command: tuple[str, ...]):
    url = f"postgresql+psycopg://tooldesk:hunter2@127.0.0.1:{free_port()}/tooldesk"

    done = _tooldesk(tmp_path, url, *command, TOOLDESK_PORT=str(free_port()))

    assert done.returncode == 2, done.stderr[-800:]
    assert "Traceback" not in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1, done.stderr
    assert "hunter2" not in done.stderr
    assert "postgresql+psycopg://tooldesk:***@127.0.0.1" in done.stderr


def _environment(url: str, settings: dict[str, str]) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TOOLDESK_", "PYTEST_"))}
    return env | {"PYTHONPATH": str(ROOT), "TOOLDESK_DATABASE_URL": url} | settings


def _tooldesk(tmp_path: Path, url: str, *args: str, **settings: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "app", *args],
        cwd=tmp_path,
        env=_environment(url, settings),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def _tooldesk_process(tmp_path: Path, url: str, *args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "app", *args],
        cwd=tmp_path,
        env=_environment(url, {}),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
