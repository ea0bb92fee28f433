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
