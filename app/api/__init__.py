"""The JSON API under ``/api`` for scripts and tests, documented at ``/docs``.

The routes call the same services as the UI. Errors use the contract's shape
``{"error": {"code", "message"}}`` with the status each error knows. ``runs``
holds runs, rounds, deliveries and agents; ``handlers`` holds handlers, the demo
and configuration; ``common`` the shared parsing and error answers.
"""

from __future__ import annotations

from fastapi import APIRouter

from app.api import handler_routes, run_routes
from app.api.common import http_error_handler, tooldesk_error_handler, validation_error_handler


def build_router() -> APIRouter:
    """All ``/api`` routes; ``app.main`` includes the router."""
    router = APIRouter()
    router.include_router(run_routes.build_router())
    router.include_router(handler_routes.build_router())
    return router


__all__ = ["build_router", "http_error_handler", "tooldesk_error_handler", "validation_error_handler"]
