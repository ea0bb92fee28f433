"""Run the simulator on its own (``python -m app simulate`` or ``python -m app.simulator``).

With ``--database FILE`` its runs are kept in that SQLite file (the ``sim_*`` tables, ``storage``) and go on after a
restart; one simulator per file (the lock of ``app.console_lock``). Without it they are kept in memory, and a
restart forgets them: to a console, its open runs are then ``lost``.
"""

from __future__ import annotations

import asyncio
import socket
import sys
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from pathlib import Path

import httpx
from fastapi import FastAPI
from sqlalchemy.exc import SQLAlchemyError

from app.console_lock import claim_database
from app.simulator.api import build_router
from app.simulator.engine import Simulator
from app.simulator.faults import DeliveryFaults
from app.simulator.gate import Gate
from app.simulator.scenario import DEFAULT_SCENARIOS_DIR, load_scenarios
from app.simulator.storage import SimStore, open_store

DEFAULT_RETRY_SCHEDULE = (0.5, 1.0, 2.0, 5.0, 10.0)


def build_standalone_app(
    *,
    webhook_url: str,
    secret: str,
    api_key: str,
    scenarios_dir: Path = DEFAULT_SCENARIOS_DIR,
    round_ttl: float = 600.0,
    retry_schedule: Sequence[float] = DEFAULT_RETRY_SCHEDULE,
    step_delay: float = 0.05,
    faults: DeliveryFaults | None = None,
    database: Path | None = None,
) -> FastAPI:
    """A bare FastAPI app serving the router at the contract's paths (no prefix).

    Scenarios are loaded now, so a bad file (or a secret that is not
    ``whsec_<base64>``) raises ``ValueError`` before any server starts.
    ``faults`` are the webhook faults to make from the start (``app.simulator.faults``).
    Runs are kept in the SQLite file ``database`` (in memory when ``None``) and the stored ones go on when the
    app starts. The simulator, its store and its HTTP client close with the app.
    """
    scenarios = load_scenarios(scenarios_dir)
    http = httpx.AsyncClient()
    simulator = Simulator(
        scenarios=scenarios, webhook_url=webhook_url, secret=secret, api_key=api_key,
        http=http, round_ttl=round_ttl, retry_schedule=retry_schedule, step_delay=step_delay,
        store=_store(database),
    )  # fmt: skip
    if faults is not None:
        simulator.faults.delivery = faults

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        simulator.resume()
        try:
            yield
        finally:
            await simulator.aclose()
            await http.aclose()

    app = FastAPI(title="Tooldesk platform simulator", lifespan=lifespan)
    app.include_router(build_router(simulator))
    app.state.simulator = simulator
    return app


def _store(database: Path | None) -> SimStore:
    """The store on ``database`` (memory when ``None``); raises ``ValueError`` naming the file it cannot open."""
    try:
        return open_store(f"sqlite:///{database}" if database is not None else "sqlite://")
    except (OSError, SQLAlchemyError) as exc:
        reason = getattr(exc, "orig", None) or exc
        raise ValueError(f"--database {database}: cannot open it ({reason}): choose a writable file path") from None


def serve_standalone(
    *,
    host: str,
    port: int,
    webhook_url: str,
    secret: str,
    api_key: str,
    scenarios_dir: Path = DEFAULT_SCENARIOS_DIR,
    round_ttl: float = 600.0,
    retry_schedule: Sequence[float] = DEFAULT_RETRY_SCHEDULE,
    step_delay: float = 0.05,
    faults: DeliveryFaults | None = None,
    log_level: str = "info",
    database: Path | None = None,
) -> None:
    """Serve the simulator until interrupted; raises ``ValueError`` on a bad scenario file, ``OSError`` when
    the address is taken, ``SettingsError`` when another process runs on ``database``.

    uvicorn listens on a private loopback port behind a ``Gate`` on ``host``:``port``, so the ``down_for``
    fault can refuse connections like a platform that is down.
    """
    lock = None
    if database is not None:
        lock = claim_database(str(database), what="simulator", host=host, port=port, setting="--database")
    try:
        app = build_standalone_app(
            webhook_url=webhook_url, secret=secret, api_key=api_key, scenarios_dir=scenarios_dir,
            round_ttl=round_ttl, retry_schedule=retry_schedule, step_delay=step_delay, faults=faults,
            database=database,
        )  # fmt: skip
        asyncio.run(_serve(app, host, port, log_level))
    finally:
        if lock is not None:
            lock.release()


async def _serve(app: FastAPI, host: str, port: int, log_level: str) -> None:
    import uvicorn

    private = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    private.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    private.bind(("127.0.0.1", 0))
    gate = Gate(host, port, private.getsockname()[:2])
    await gate.open()
    app.state.simulator.faults.go_down = gate.down
    print(f"simulator listening on http://{host}:{port}", file=sys.stderr, flush=True)
    server = uvicorn.Server(uvicorn.Config(app, log_level=log_level))
    try:
        await server.serve(sockets=[private])
    finally:
        await gate.close()
