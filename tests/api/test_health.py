"""Liveness and readiness probes: ``/healthz`` and ``/readyz`` answer without sign-in and whatever the Host, and
``/readyz`` says in words why the console is not ready (a database it cannot open, platform settings missing)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import threading
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from nicegui import app as nicegui_app
from nicegui.testing import User
from sqlalchemy import event

from app.api.health_routes import _unwritable
from app.runtime import get_runtime
from app.services import sign_in, users
from tests import postgres
from tests.builders import start_done

ORCHESTRATOR_HOST = "10.42.0.7:8080"
"""The Host a Kubernetes probe sends: the pod's address, not a name the console knows."""


@pytest.fixture
async def probe(user: User) -> AsyncIterator[httpx.AsyncClient]:
    """A client with no token and no session, as a container's health check calls (the ``user`` fixture has started
    the console)."""
    async with httpx.AsyncClient(transport=httpx.ASGITransport(nicegui_app), base_url="http://127.0.0.1:8080") as c:
        yield c


@pytest.fixture
def real_platform(monkeypatch: pytest.MonkeyPatch) -> None:
    """A real platform's URL (nothing listens there) on a console listening on every address, nothing else set."""
    monkeypatch.setenv("TOOLDESK_PLATFORM_URL", "http://127.0.0.1:9")
    monkeypatch.setenv("TOOLDESK_HOST", "0.0.0.0")


@pytest.mark.parametrize("host", ["127.0.0.1:8080", ORCHESTRATOR_HOST])
async def test_healthz_answers_without_sign_in(probe: httpx.AsyncClient, host: str):
    response = await probe.get("/healthz", headers={"host": host})
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


@pytest.mark.parametrize("host", ["127.0.0.1:8080", ORCHESTRATOR_HOST])
async def test_readyz_ready_says_what_was_checked(probe: httpx.AsyncClient, host: str):
    response = await probe.get("/readyz", headers={"host": host})
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["status"] == "ready"
    assert body["reason"] is None
    assert body["checks"]["database"]["ok"] is True
    assert body["checks"]["platform"] == {"ok": True, "detail": "the embedded simulator (no TOOLDESK_PLATFORM_URL)"}


async def test_pages_still_need_sign_in_beside_the_probes(probe: httpx.AsyncClient):
    assert (await probe.get("/runs")).status_code == 303
    assert (await probe.get("/api/runs")).status_code == 401


@pytest.mark.sqlite_only("renames the SQLite file under the console")
async def test_readyz_not_ready_while_the_database_file_is_gone(probe: httpx.AsyncClient, tmp_path: Path):
    database = tmp_path / "tooldesk.db"
    moved = tmp_path / "moved-away.db"
    database.rename(moved)
    try:
        response = await probe.get("/readyz")
        alive = await probe.get("/healthz")
    finally:
        moved.rename(database)
    assert response.status_code == 503, response.text
    body = response.json()
    assert body["status"] == "not ready"
    assert body["checks"]["database"]["ok"] is False
    assert body["reason"].startswith("database: the SQLite file of TOOLDESK_DATABASE_URL cannot be read")
    assert str(tmp_path) not in response.text  # no path for whoever reaches the port
    assert body["checks"]["platform"]["ok"] is True
    assert alive.status_code == 200  # liveness does no database work: no restart for a file a restart cannot bring back
    assert (await probe.get("/readyz")).status_code == 200


@pytest.mark.postgresql_only("takes the PostgreSQL database away under the console")
async def test_readyz_not_ready_while_the_postgresql_database_is_gone(
    probe: httpx.AsyncClient, request: pytest.FixtureRequest, database_url: str
):
    cluster: postgres.Cluster = request.getfixturevalue("postgres_cluster")
    await start_done()  # the start's own database work (agents, reconciliation, handlers' sweep) is not checked
    with cluster.taken_away(database_url.rsplit("/", 1)[1]):
        response = await probe.get("/readyz")
        alive = await probe.get("/healthz")
    assert response.status_code == 503, response.text
    body = response.json()
    assert body["checks"]["database"]["ok"] is False
    assert body["reason"].startswith("database: the database query failed (OperationalError: ")
    assert body["checks"]["platform"]["ok"] is True
    assert alive.status_code == 200
    again = await probe.get("/readyz")  # the pool connects again once the database is back
    assert again.status_code == 200, again.text
    assert again.json()["checks"]["database"] == {"ok": True, "detail": "postgresql: a query answered"}


async def test_readyz_names_the_platform_settings_missing(real_platform: None, probe: httpx.AsyncClient):
    response = await probe.get("/readyz")
    assert response.status_code == 503, response.text
    body = response.json()
    assert body["checks"]["database"]["ok"] is True
    platform = body["checks"]["platform"]
    assert platform["ok"] is False
    assert "TOOLDESK_PLATFORM_API_KEY is not set" in platform["detail"]
    assert "TOOLDESK_PUBLIC_URL is not set" in platform["detail"]
    assert "http://0.0.0.0:8080/webhooks/sudoiq" in platform["detail"]
    assert body["reason"] == f"platform: {platform['detail']}"


@pytest.fixture
def real_platform_set(real_platform: None, monkeypatch: pytest.MonkeyPatch) -> None:
    """The same, with the platform's API key and the address the platform calls."""
    monkeypatch.setenv("TOOLDESK_PLATFORM_API_KEY", "live-key-1")
    monkeypatch.setenv("TOOLDESK_PUBLIC_URL", "https://tooldesk.example.com")


@pytest.fixture
def every_address(monkeypatch: pytest.MonkeyPatch) -> None:
    """The embedded simulator, on a console listening on every address without a public URL."""
    monkeypatch.setenv("TOOLDESK_HOST", "0.0.0.0")


async def test_readyz_not_ready_on_every_address_without_public_url(every_address: None, probe: httpx.AsyncClient):
    response = await probe.get("/readyz")
    assert response.status_code == 503, response.text
    detail = response.json()["checks"]["platform"]["detail"]
    assert detail.startswith("TOOLDESK_PUBLIC_URL is not set: the embedded simulator would be told to call")
    assert "TOOLDESK_PLATFORM_API_KEY" not in detail  # the embedded simulator makes its own


async def test_readyz_ready_with_a_real_platform_fully_set(real_platform_set: None, probe: httpx.AsyncClient):
    response = await probe.get("/readyz")
    assert response.status_code == 200, response.text
    assert response.json()["checks"]["platform"]["ok"] is True
    assert "live-key-1" not in response.text


@pytest.mark.parametrize("path", ["/healthz", "/readyz", "/healthz/", "/readyz/"])
async def test_probes_answer_head_and_a_trailing_slash_without_redirect(probe: httpx.AsyncClient, path: str):
    head = await probe.head(path, headers={"host": ORCHESTRATOR_HOST})
    get = await probe.get(path, headers={"host": ORCHESTRATOR_HOST})

    assert (head.status_code, get.status_code) == (200, 200), get.text
    assert get.json()["status"] in {"ok", "ready"}


def test_unwritable_database_file_and_folder_are_named(tmp_path: Path):
    """Run as a user who may read but not write the file, as a read-only file or volume leaves the console."""
    folder = Path(tempfile.mkdtemp(prefix="readyz-"))
    try:
        database = folder / "tooldesk.db"
        database.write_bytes(b"")
        database.chmod(0o444)
        folder.chmod(0o555)
        check = f"from pathlib import Path; from app.api.health_routes import _unwritable; print(_unwritable(Path({str(database)!r})))"
        command = [sys.executable, "-c", check]
        if os.geteuid() == 0:  # root may write anything: ask as nobody, whom the modes bind
            command = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", *command]
        said = subprocess.run(command, capture_output=True, text=True, check=True, cwd=Path(__file__).parents[2]).stdout

        assert said.startswith("the SQLite file of TOOLDESK_DATABASE_URL is not writable by this process"), said
        writable = tmp_path / "writable.db"
        writable.write_bytes(b"")
        assert _unwritable(writable) == ""
    finally:
        folder.chmod(0o755)
        shutil.rmtree(folder)


@pytest.mark.sqlite_only("SQLite's own query_only switch makes the database refuse writes")
async def test_database_that_refuses_writes_is_503_with_the_reason_not_500(probe: httpx.AsyncClient):
    engine = get_runtime().engine
    ticket = sign_in.issue_ticket(engine=engine, user_id=users.user_id(engine=engine, name="admin"), ttl=60, then="/")

    refusing = threading.Event()

    def read_only(connection, _record):  # SQLite's own switch: every write fails as on a read-only file
        if refusing.is_set():
            connection.execute("PRAGMA query_only = ON")

    # listened to once and never removed: the console's threads connect meanwhile, and SQLAlchemy's list of
    # listeners must not change under them
    await start_done()
    event.listen(engine, "connect", read_only)
    refusing.set()
    engine.dispose()
    try:
        response = await probe.get(f"/signin/ticket?ticket={ticket}")
    finally:
        refusing.clear()
        engine.dispose()

    assert response.status_code == 503, response.text
    assert response.headers["retry-after"] == "5"
    assert response.text.startswith(
        "Tooldesk: the console cannot use its database right now (attempt to write a readonly database)"
    )
