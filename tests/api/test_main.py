"""Building the app: routes and pages mounted on NiceGUI's FastAPI app."""

from __future__ import annotations

from pathlib import Path

import pytest

from app import migrations
from app.runtime import get_runtime
from tests.builders import Console


async def test_mount_routes_does_not_wrap_the_app_lifespan_again(console: Console):
    """Regression: ``include_router`` wrapped NiceGUI's lifespan once more for every build, and the test plugin
    builds the app for every test: after ~400 tests starting the app overflowed the stack."""
    from fastapi import APIRouter
    from nicegui import app as nicegui_app

    from app.main import _mount

    before = nicegui_app.router.lifespan_context
    _mount(APIRouter(), lasting=False)
    _mount(APIRouter(), lasting=True)
    assert nicegui_app.router.lifespan_context is before


@pytest.mark.no_database_file
@pytest.mark.sqlite_only("about the first start on a SQLite file that does not exist yet")
async def test_first_start_on_a_missing_file_makes_and_migrates_it(console: Console, tmp_path: Path):
    """Other tests start from a copy of a migrated file (``tests/conftest.py``); a real first start has none."""
    assert (tmp_path / "tooldesk.db").is_file()
    assert migrations.current(get_runtime().engine) == migrations.head()
    assert (await console.get("/api/runs")).status_code == 200


async def test_fastapi_telemetry_is_off(console: Console):
    """FastAPI's own OpenTelemetry is off (``app.main.NO_TELEMETRY``): Tooldesk exports nothing, and with it on
    every request, the webhook's included, looks up OpenTelemetry's providers."""
    from nicegui import app as nicegui_app

    telemetry = nicegui_app._telemetry  # set on the app NiceGUI built (it takes no telemetry= argument)
    assert (telemetry["tracing"], telemetry["metrics"], telemetry["logs"]) == (False, False, False)
    assert (await console.get("/healthz")).status_code == 200  # and the app answers with it off
