"""Building the app: routes and pages mounted on NiceGUI's FastAPI app."""

from __future__ import annotations

from tests.builders import Console


async def test_mount_routes_does_not_wrap_the_app_lifespan_again(console: Console):
    """Regression: ``include_router`` wrapped NiceGUI's lifespan once more for every build, and the test plugin
    builds the app for every test: after ~400 tests starting the app overflowed the stack."""
    from fastapi import APIRouter
    from nicegui import app as nicegui_app

    from app.main import _mount

    before = nicegui_app.router.lifespan_context
    _mount(APIRouter())
    assert nicegui_app.router.lifespan_context is before
