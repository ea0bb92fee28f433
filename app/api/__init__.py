"""The JSON API under ``/api`` for scripts and tests, documented at ``/docs``.

The routes call the same services as the UI, then one of ``Runtime``'s
after-change methods. Each route names the role it needs in its decorator,
``dependencies=[Depends(need(Role.X))]`` (``app.auth.access``): 401 without a
token or session, 403 ``forbidden`` below that role. Bodies are pydantic models (so ``/docs`` shows each), and
every POST, PUT and PATCH must be ``Content-Type: application/json`` (415
otherwise). Errors use the contract's shape ``{"error": {"code", "message"}}``
with the status each error knows. ``run_routes`` holds runs, rounds, deliveries
and agents; ``handler_routes`` handlers, the demo and configuration; ``rule_routes`` a rules handler's unmatched
calls and rule edits; ``delivery_routes`` a delivery's curl command and a replay's diff; ``run_bulk_routes`` runs
in bulk and a run's durations;
``secret_routes`` the webhook secret's rotation; ``audit_routes`` the audit; ``rule_state_routes`` rules handlers' counts and runs' state; ``cassette_routes`` cassettes and playback; ``sweep_routes`` robustness sweeps; ``common`` the content-type
rule and the error answers. ``health_routes`` holds the probes ``/healthz`` and ``/readyz``, outside ``/api``,
open without sign-in (``app.main`` mounts them itself).
"""

from __future__ import annotations

import functools

from fastapi import APIRouter
from starlette.routing import BaseRoute

from app.api import (
    audit_routes,
    cassette_routes,
    delivery_routes,
    handler_routes,
    rule_routes,
    rule_state_routes,
    run_bulk_routes,
    run_routes,
    secret_routes,
    sweep_routes,
)
from app.api.common import (
    database_error_handler,
    http_error_handler,
    json_not_found,
    tooldesk_error_handler,
    validation_error_handler,
)


@functools.cache
def build_router() -> APIRouter:
    """All ``/api`` routes in one router, built once per process; ``app.main`` mounts it."""
    router = APIRouter()
    router.include_router(run_bulk_routes.router)  # before run_routes: /runs/bulk is not a task_id
    router.include_router(run_routes.router)
    router.include_router(delivery_routes.router)
    router.include_router(handler_routes.router)
    router.include_router(rule_routes.router)
    router.include_router(secret_routes.router)
    router.include_router(audit_routes.router)
    router.include_router(cassette_routes.router)
    router.include_router(sweep_routes.router)
    router.include_router(rule_state_routes.router)
    return router


_HELD: dict[tuple[int, str], tuple[APIRouter, list[BaseRoute]]] = {}


def held_routes(router: APIRouter, prefix: str = "") -> list[BaseRoute]:
    """The routes that put ``router``'s routes under ``prefix`` on an app (FastAPI's lazy included router), made
    once per process for each ``router`` and ``prefix``; only for a router that lives as long as the process.

    FastAPI (0.141+) works out an included router's routes (their dependencies and body models) at its first
    request and keeps them in that object. NiceGUI's test plugin builds the app again for every test: with the same
    objects each time, that work is done once per test process instead of once per test."""
    key = (id(router), prefix)
    if key not in _HELD:
        holder = APIRouter(prefix=prefix)
        holder.include_router(router)
        _HELD[key] = (router, list(holder.routes))  # the router is kept, so its id names no other
    return _HELD[key][1]


__all__ = [
    "build_router",
    "database_error_handler",
    "held_routes",
    "http_error_handler",
    "json_not_found",
    "tooldesk_error_handler",
    "validation_error_handler",
]
