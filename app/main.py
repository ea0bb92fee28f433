"""Builds the console: routes, pages, startup and shutdown hooks.

``python -m app`` (see ``app/__main__.py``) calls ``serve()``. NiceGUI's test
plugin runs this file as ``__main__`` under its user simulation, where no
socket listens: then the console reaches its own routes (the embedded
simulator, the webhook) through an ``httpx.ASGITransport`` instead of the network.
"""

from __future__ import annotations

import asyncio
import gc
import logging
import os
import socket
import sqlite3
import sys
import time

import httpx
from fastapi import APIRouter, FastAPI
from fastapi.exceptions import RequestValidationError
from fastapi.telemetry import TelemetryConfig
from nicegui import app as nicegui_app
from nicegui import background_tasks, ui
from sqlalchemy.exc import OperationalError
from starlette.exceptions import HTTPException as StarletteHTTPException

from app.api import build_router as build_api_router
from app.api import (
    database_error_handler,
    health_routes,
    held_routes,
    http_error_handler,
    json_not_found,
    tooldesk_error_handler,
    validation_error_handler,
)
from app.auth.gate import SIGN_IN_PATH, AuthGate
from app.auth.signin_routes import router as signin_router
from app.config import SIMULATOR_PREFIX, Settings, get_settings
from app.console_lock import claim_database
from app.desktop import WINDOW_SIZE, sign_in_window
from app.errors import SettingsError, TooldeskError
from app.guard import allowed_hosts, install_guard
from app.nicegui_layers import replace_nicegui_layers
from app.pools import install_ui_pool
from app.runtime import Runtime, build_runtime
from app.services import agents, sign_in, sweeps, users
from app.services.reconcile import reconcile_runs
from app.simulator import build_router as build_simulator_router
from app.ui import element_speed, socket_guard, socket_speed
from app.ui.layout import root
from app.ui.pages.signin import signin_page
from app.webhooks.fast_path import install_fast_path
from app.webhooks.route import router as webhook_router

log = logging.getLogger("tooldesk")


def build(settings: Settings) -> Runtime:
    """Make the runtime and register every route and hook on NiceGUI's FastAPI app."""
    simulated = bool(os.environ.get("NICEGUI_USER_SIMULATION"))
    transport = httpx.ASGITransport(nicegui_app) if simulated else None
    runtime = build_runtime(settings, transport=transport)
    element_speed.install()  # NiceGUI's per-element signature check, once per function
    socket_guard.install()  # browsers' socket messages checked for shape before NiceGUI reads them
    socket_speed.install()  # python-socketio's binary check of every outgoing message, in one loop
    telemetry = getattr(nicegui_app, "_telemetry", None)  # NiceGUI builds its FastAPI app on import: no telemetry=
    if isinstance(telemetry, dict):
        telemetry.update(NO_TELEMETRY)
    nicegui_app.add_middleware(AuthGate)  # inside the guard: the Host check comes first
    install_guard(nicegui_app, settings)
    ui.page(SIGN_IN_PATH, title="Sign in · Tooldesk")(signin_page)
    _mount(signin_router, lasting=True)
    _mount(health_routes.router, lasting=True)
    _mount(webhook_router, lasting=True)
    _mount(build_api_router(), lasting=True)
    simulator_app = None
    if runtime.simulator is not None:
        simulator_router = build_simulator_router(runtime.simulator)
        _mount(simulator_router, prefix=SIMULATOR_PREFIX, lasting=False)  # listed in /docs; served by simulator_app
        simulator_app = _simulator_app(simulator_router)
        nicegui_app.on_startup(runtime.simulator.resume)  # its stored runs go on, before any request is served
    nicegui_app.add_exception_handler(TooldeskError, tooldesk_error_handler)
    nicegui_app.add_exception_handler(RequestValidationError, validation_error_handler)
    nicegui_app.add_exception_handler(StarletteHTTPException, http_error_handler)
    pages_404 = nicegui_app.exception_handlers.get(404)
    if pages_404 is not None and not getattr(pages_404, "json_paths", False):  # wrapped once per process
        nicegui_app.add_exception_handler(404, json_not_found(pages_404))
    for database_error in (OperationalError, sqlite3.OperationalError):
        nicegui_app.add_exception_handler(database_error, database_error_handler)
    nicegui_app.on_startup(lambda: replace_nicegui_layers(nicegui_app))  # before the fast path wraps the stack
    hosts = allowed_hosts(settings)  # the webhook's fast path goes in front of everything, NiceGUI's own layers too
    nicegui_app.on_startup(lambda: install_fast_path(nicegui_app, hosts=hosts, simulator=simulator_app))
    nicegui_app.on_startup(install_ui_pool)  # before any page work: pages never queue behind other kinds of work
    nicegui_app.on_startup(lambda: background_tasks.create(_on_start(runtime), name="sync agents, reconcile runs"))
    nicegui_app.on_shutdown(runtime.aclose)
    return runtime


NO_TELEMETRY: TelemetryConfig = {"tracing": False, "metrics": False, "logs": False}
"""FastAPI's own OpenTelemetry spans, metrics and logs, off: Tooldesk exports none, and while they are on FastAPI
looks up OpenTelemetry's three global providers at every request, the webhook's and the simulator's included
(about 9 µs a request; 0.2 µs off)."""


def _tune_interpreter() -> None:
    """Two interpreter settings for the webhook's tail (issue 10, the 500/s and overload rows), once the console
    has started:

    - move every object made while starting (modules, NiceGUI's and SQLAlchemy's structures: most of the heap) out
      of the garbage collector's reach, so its full collections scan only what was made since and stop pausing
      the event loop and the webhook's writer for tens of milliseconds;
    - hand the GIL over every ``SWITCH_INTERVAL`` s instead of every 5 ms: the writer's thread verifies and stores
      batches in Python, and the event loop, which answers every request, waited up to 5 ms for the GIL at each
      of a request's turns while it did."""
    gc.collect()
    gc.freeze()
    sys.setswitchinterval(SWITCH_INTERVAL)


SWITCH_INTERVAL = 0.001
"""Seconds a thread holds the GIL at most while another waits for it (Python's default: 0.005)."""


async def _on_start(runtime: Runtime) -> None:
    """List the platform's agents once, so names show everywhere, then reconcile open runs once.

    A platform that does not answer is only logged: the console still serves what it has stored.
    """
    started = time.time()
    if runtime.relay is not None:  # PostgreSQL: live push to and from the other consoles on the database
        runtime.relay.start()
    runtime.outbox.start()
    runtime.retention.start()
    runtime.search_index.start()
    await asyncio.sleep(0.2)  # let the server accept connections: the embedded simulator is served by it
    try:
        await agents.sync_agents(engine=runtime.engine, client=runtime.client)
    except TooldeskError as exc:
        log.warning("could not list the platform's agents at start: %s", exc.message)
    else:
        runtime.agents_changed()
    runtime.runs_reconciled(await reconcile_runs(engine=runtime.engine, client=runtime.client, before=started))
    await sweeps.resume_sweeps(engine=runtime.engine, client=runtime.client, on_started=runtime.run_started)


def _simulator_app(router: APIRouter) -> FastAPI:
    """The embedded simulator's routes as an app of their own, served in front of NiceGUI's middleware
    (``app.webhooks.fast_path``): the console calls them for every submission, and a page's middleware has nothing
    to do for an API-key-authenticated platform call. Errors keep the contract's shape."""
    simulator_app = FastAPI(openapi_url=None, docs_url=None, redoc_url=None, telemetry=NO_TELEMETRY)
    holder = APIRouter(prefix=SIMULATOR_PREFIX)
    holder.include_router(router)
    simulator_app.router.routes.extend(holder.routes)
    simulator_app.add_exception_handler(TooldeskError, tooldesk_error_handler)
    simulator_app.add_exception_handler(RequestValidationError, validation_error_handler)
    simulator_app.add_exception_handler(StarletteHTTPException, http_error_handler)
    return simulator_app


def _mount(router: APIRouter, prefix: str = "", *, lasting: bool) -> None:
    """Add a router's routes to NiceGUI's app. ``app.include_router`` would also wrap the app's lifespan in one
    more layer per call, and NiceGUI's test plugin builds the app again for every test: the layers pile up until
    the lifespan overflows the stack. A holder router applies the prefix and takes the wrapping instead; for a
    ``lasting`` router (one that lives as long as the process) the holder's routes are made once
    (``app.api.held_routes``)."""
    if lasting:
        nicegui_app.router.routes.extend(held_routes(router, prefix))
        return
    holder = APIRouter(prefix=prefix)
    holder.include_router(router)
    nicegui_app.router.routes.extend(holder.routes)


def serve(settings: Settings, *, window: bool = False) -> None:
    """Build the console and serve it on ``settings.host:settings.port`` until interrupted; with ``window``, in a
    window of its own, signed in, until the window is closed (``app.desktop``).

    Raises ``SettingsError`` when another console runs on the same SQLite file (``app.console_lock``; several may
    share a PostgreSQL database) or the address cannot be bound (port in use, unknown host).
    """
    _check_auth(settings)
    lock = None  # several consoles may share one PostgreSQL database (issue 9): the file lock is SQLite's
    if settings.database_is_sqlite:
        lock = claim_database(settings.database_path, what="console", host=settings.host, port=settings.port)
    if not os.environ.get("NICEGUI_USER_SIMULATION"):  # NiceGUI's simulated user (tests) listens on no port
        _check_address(settings)
    runtime = build(settings)
    if lock is not None:
        nicegui_app.on_shutdown(lock.release)
    if window:
        sign_in_window(runtime)
    else:
        _announce_sign_in(runtime)
    nicegui_app.on_startup(lambda: background_tasks.create(runtime.sandbox(), name="warm the sandbox"))
    nicegui_app.on_startup(_tune_interpreter)  # a served console only: tests build the app again and again
    ui.run(
        root,
        host=settings.host,
        port=settings.port,
        title="Tooldesk",
        favicon="🛎️",
        reload=False,
        show=False,
        fastapi_docs=True,
        show_welcome_message=not window,
        native=window,
        window_size=WINDOW_SIZE if window else None,
        reconnect_timeout=settings.reconnect_timeout,  # a short drop never reloads the page (issue 8, C15)
        # uvicorn believes X-Forwarded-For from 127.0.0.1 by default: anyone on the host could then pick the address
        # the refusal rate limit and the sign-in slow-down count by
        proxy_headers=bool(settings.trusted_proxies),
        forwarded_allow_ips=settings.trusted_proxies or None,
    )


def _check_auth(settings: Settings) -> None:
    """``TOOLDESK_AUTH=off`` only on a loopback address: anyone who can reach the port could otherwise run code."""
    if settings.auth:
        return
    if not settings.loopback:
        raise SettingsError(
            f"bad setting: TOOLDESK_AUTH=off is accepted only when listening on a loopback address, not "
            f"{settings.host}: set TOOLDESK_HOST=127.0.0.1, or leave sign-in on"
        )
    log.warning("sign-in is off (TOOLDESK_AUTH=off): everyone who can reach %s is an admin", settings.base_url)


def _announce_sign_in(runtime: Runtime) -> None:
    """With no user yet, add ``admin`` and print a single-use sign-in link for it (also while no user has a
    password, so the console is never out of reach)."""
    if not runtime.settings.auth:
        return
    engine = runtime.engine
    name = users.first_admin_without_password(engine=engine)
    if name is None:
        return
    ticket = sign_in.issue_ticket(
        engine=engine,
        user_id=users.user_id(engine=engine, name=name),
        ttl=runtime.settings.signin_link_ttl,
        then="/account",
    )
    link = f"{browser_base_url(runtime.settings)}/signin/ticket?ticket={ticket}"
    hours = runtime.settings.signin_link_ttl / 3600
    print(
        f"\nTooldesk: sign in as {name!r} with this link (it works once, for {hours:g} h), then set a password:\n"
        f"    {link}\n",
        flush=True,
    )


def browser_base_url(settings: Settings) -> str:
    """Where a person on this machine opens the console: ``base_url``, except that a wildcard listening address
    (``0.0.0.0``, ``::``), which no browser can open and the Host check refuses, becomes ``127.0.0.1``."""
    if settings.public_url or settings.host not in {"0.0.0.0", "::"}:
        return settings.base_url
    return f"http://127.0.0.1:{settings.port}"


def _check_address(settings: Settings) -> None:
    """Bind the address once before anything starts, so a busy port is one clear line, not a server log."""
    try:
        family = socket.AF_INET6 if ":" in settings.host else socket.AF_INET
        with socket.socket(family, socket.SOCK_STREAM) as probe:
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            probe.bind((settings.host, settings.port))
    except OSError as exc:
        raise SettingsError(
            f"bad setting: cannot listen on {settings.host}:{settings.port} ({exc.strerror or exc}): "
            "choose another TOOLDESK_PORT (or --port) or TOOLDESK_HOST"
        ) from None


if __name__ in {"__main__", "__mp_main__"}:
    serve(get_settings())
