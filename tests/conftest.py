"""Shared fixtures: a fresh database and settings per test, and an HTTP client on the console's ASGI app.

The database is a SQLite file in the test's folder, or with ``TOOLDESK_TEST_DATABASE=postgresql`` a database of its
own on a throwaway PostgreSQL cluster (``tests.postgres``), one cluster per test process. A test about what only
SQLite has (its file, its lock, its WAL) is marked ``sqlite_only("why")`` and skipped on PostgreSQL, saying why; one
about what only PostgreSQL has, ``postgresql_only("why")``, is skipped on SQLite.
"""

from __future__ import annotations

import asyncio
import logging
import shutil
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from nicegui import app as nicegui_app
from nicegui import background_tasks
from nicegui.testing import User
from nicegui.testing.general_fixtures import get_path_to_main_file
from nicegui.testing.user_simulation import user_simulation

from app.changes import changes
from app.config import get_settings
from app.db import make_engine
from app.runtime import Runtime, get_runtime
from app.states import Role
from tests import postgres
from tests.builders import SECRET, Console, listen_for_statements, make_token, sign_in_user

ON_POSTGRESQL = postgres.selected()
listen_for_statements()


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "sqlite_only(reason): about what only SQLite has (its file, lock, WAL); skipped on PostgreSQL"
    )
    config.addinivalue_line(
        "markers", "no_database_file: on SQLite, the test's database file does not exist when it starts"
    )
    config.addinivalue_line(
        "markers", "postgresql_only(reason): about what only PostgreSQL has; skipped on SQLite (the first pass)"
    )
    if ON_POSTGRESQL:
        # an engine a test drops without dispose() leaves its pooled connections to the garbage collector, which
        # Python's sqlite3 closes silently and psycopg closes with this warning (turned into an error by the
        # project's filterwarnings); the server side is cut anyway when the test's database is taken back
        config.addinivalue_line(
            "filterwarnings", r"ignore:<psycopg\.Connection object at .*> was deleted while still open:ResourceWarning"
        )


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    skipped, said = ("sqlite_only", "SQLite only") if ON_POSTGRESQL else ("postgresql_only", "PostgreSQL only")
    for item in items:
        if (mark := item.get_closest_marker(skipped)) is not None:
            reason = mark.args[0] if mark.args else mark.kwargs.get("reason", "")
            item.add_marker(pytest.mark.skip(reason=f"{said}: {reason}"))


@pytest.fixture(scope="session")
def postgres_cluster() -> Iterator[postgres.Cluster]:
    """This test process's PostgreSQL cluster, started at its first use and stopped at the session's end."""
    cluster = postgres.Cluster.start()
    yield cluster
    cluster.stop()


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A SQLite file migrated to the newest revision once per test process (as ``tests/postgres.py`` keeps a
    migrated template database): each test starts from a copy instead of running every revision again."""
    path = tmp_path_factory.mktemp("template") / "tooldesk.db"
    engine = make_engine(f"sqlite:///{path}")
    with engine.connect() as conn:
        conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
    engine.dispose()
    return path


@pytest.fixture
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """The test's own database: ``sqlite:///<tmp_path>/tooldesk.db``, a copy of ``sqlite_template`` (a test
    marked ``no_database_file`` gets no file there: the console makes it), or a fresh PostgreSQL database
    (already migrated, no rows) under ``TOOLDESK_TEST_DATABASE=postgresql``."""
    if not ON_POSTGRESQL:
        if request.node.get_closest_marker("no_database_file") is None:
            template: Path = request.getfixturevalue("sqlite_template")
            shutil.copyfile(template, tmp_path / "tooldesk.db")
            (tmp_path / "tooldesk.db").chmod(0o600)
        yield f"sqlite:///{tmp_path}/tooldesk.db"
        return
    cluster: postgres.Cluster = request.getfixturevalue("postgres_cluster")
    name = cluster.fresh_database()
    yield cluster.url(name)
    cluster.release_database(name)


@pytest.fixture(autouse=True)
def settings_env(database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Every test gets its own database (``database_url``), a known secret, an instant simulator and a short retry
    schedule."""
    for name in ("PLATFORM_URL", "PUBLIC_URL", "PORT", "HOST"):
        monkeypatch.delenv(f"TOOLDESK_{name}", raising=False)
    monkeypatch.setenv("TOOLDESK_DATABASE_URL", database_url)
    monkeypatch.setenv("TOOLDESK_WEBHOOK_SECRET", SECRET)
    monkeypatch.setenv("TOOLDESK_STEP_DELAY", "0")
    monkeypatch.setenv("TOOLDESK_RETRY_SCHEDULE", "0.05,0.1,0.2")
    monkeypatch.setenv("TOOLDESK_OUTBOX_RETRY", "0.05")
    monkeypatch.chdir(tmp_path)
    get_settings.cache_clear()
    changes.callbacks.clear()
    _drop_tasks_of_closed_loops()
    yield
    changes.callbacks.clear()
    get_settings.cache_clear()


_STALE_TASKS: list[asyncio.Task[object]] = []
"""Tasks of earlier tests' closed event loops, kept referenced so that they are never collected (see below)."""


def _drop_tasks_of_closed_loops() -> None:
    """Take NiceGUI background tasks left by an earlier test whose event loop has closed (one that failed while
    they ran, or one that started them during its own shutdown) out of ``background_tasks``. Left there, they make
    NiceGUI's shutdown in the next test gather tasks of two loops, which raises at once, and it logs and retries
    that forever: one failure would hang the whole worker. They are kept in ``_STALE_TASKS``, not let go: collected,
    a pending task's coroutine is closed inside NiceGUI's client context, outside any test, and that raises in
    whichever test runs at the time."""
    for task in list(background_tasks.running_tasks):
        if task.get_loop().is_closed():
            background_tasks.running_tasks.discard(task)
            _STALE_TASKS.append(task)
    for key, task in list(background_tasks.lazy_tasks_running.items()):
        if task.get_loop().is_closed():
            del background_tasks.lazy_tasks_running[key]
            _STALE_TASKS.append(task)


@pytest.fixture
async def user(caplog: pytest.LogCaptureFixture, request: pytest.FixtureRequest) -> AsyncIterator[User]:
    """NiceGUI's simulated user, signed in as an admin (tests about roles and sign-in make their own users).

    In place of NiceGUI's own ``user`` fixture (``nicegui.testing.user_plugin``), which fails a test that logged an
    ERROR from inside the simulation: NiceGUI's lifespan has no ``finally``, so its shutdown is then skipped, the app
    stays started, and every later test of the same process errors at setup ("NiceGUI has already been started").
    Here the check runs after the simulation has shut down, and the failure says what was logged."""
    async with user_simulation(main_file=get_path_to_main_file(request)) as simulated:
        sign_in_user(simulated, role=Role.ADMIN)
        yield patient(simulated)
    errors = [record for record in caplog.get_records("call") if record.levelno >= logging.ERROR]
    if errors:
        said = "\n".join(_LOG_FORMAT.format(record)[:4000] for record in errors[:5])
        pytest.fail(f"There were unexpected ERROR logs:\n{said}", pytrace=False)


_LOG_FORMAT = logging.Formatter("%(levelname)s %(name)s: %(message)s")


@pytest.fixture
def create_user(create_user: Callable[[], User]) -> Callable[[], User]:
    """NiceGUI's factory of further simulated users (other tabs), each signed in as an admin."""

    def make() -> User:
        made = create_user()
        sign_in_user(made, role=Role.ADMIN)
        return patient(made)

    return make


SEE_RETRIES = 100  # about 10 s for should_see, 5 s for should_not_see


def patient(user: User) -> User:
    """``user`` whose ``should_see`` and ``should_not_see`` look ``SEE_RETRIES`` times unless a test says how often.

    NiceGUI's default is 3 looks 0.1 s apart: a card drawn by a live push or a background task then fails the test
    when the machine is busy (two test processes on two cores, CI), although a person would see it a moment later.
    Both still return at the first look that holds, so a passing test is as fast as before, and what they assert is
    unchanged: the element shows (or is gone) on the page.
    """
    see, not_see = user.should_see, user.should_not_see

    async def should_see(*args: Any, retries: int = SEE_RETRIES, **kwargs: Any) -> None:
        await see(*args, retries=retries, **kwargs)

    async def should_not_see(*args: Any, retries: int = SEE_RETRIES, **kwargs: Any) -> None:
        await not_see(*args, retries=retries, **kwargs)

    user.should_see = should_see  # type: ignore[method-assign]
    user.should_not_see = should_not_see  # type: ignore[method-assign]
    return user


@pytest.fixture
async def console(user: User) -> AsyncIterator[Console]:
    """An HTTP client on the running console (NiceGUI's user simulation has started it), with its common steps;
    it sends an admin's API token."""
    token = make_token(role=Role.ADMIN)
    async with Console(
        transport=httpx.ASGITransport(nicegui_app),
        base_url="http://127.0.0.1:8080",
        headers={"Authorization": f"Bearer {token}"},
    ) as c:
        yield c


@pytest.fixture
def runtime(console: Console) -> Runtime:
    return get_runtime()
