"""Run the simulator on its own (``python -m app simulate`` or ``python -m app.simulator``).

With ``--database FILE`` its runs are kept in that SQLite file (the ``sim_*`` tables, ``storage``) and go on after a
restart; one simulator per file (the lock of ``app.console_lock``). Without it they are kept in memory, and a
restart forgets them: to a console, its open runs are then ``lost``.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from pathlib import Path

import httpx
from fastapi import FastAPI
from sqlalchemy.exc import SQLAlchemyError

from app.console_lock import claim_database
from app.simulator.api import build_router
from app.simulator.engine import Simulator
from app.simulator.scenario import DEFAULT_SCENARIOS_DIR, load_scenarios
from app.simulator.storage import SimStore, open_store


def build_standalone_app(
    *,
    webhook_url: str,
    secret: str,
    api_key: str,
    scenarios_dir: Path = DEFAULT_SCENARIOS_DIR,
    round_ttl: float = 600.0,
    retry_schedule: Sequence[float] = (0.5, 1, 2, 5, 10),
    database: Path | None = None,
) -> FastAPI:
    """A bare FastAPI app serving the router at the contract's paths (no prefix).

    Scenarios are loaded now, so a bad file (or a secret that is not
    ``whsec_<base64>``) raises ``ValueError`` before any server starts.
    Runs are kept in the SQLite file ``database`` (in memory when ``None``) and the stored ones go on when the
    app starts. The simulator, its store and its HTTP client close with the app.
    """
    scenarios = load_scenarios(scenarios_dir)
    http = httpx.AsyncClient()
    simulator = Simulator(
        scenarios=scenarios, webhook_url=webhook_url, secret=secret, api_key=api_key,
        http=http, round_ttl=round_ttl, retry_schedule=retry_schedule,
        store=_store(database),
    )  # fmt: skip

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
    database: Path | None = None,
) -> None:
    """Serve the simulator under uvicorn until interrupted; raises ``ValueError`` on a bad scenario file, and
    ``SettingsError`` when another process runs on ``database``."""
    import uvicorn

    lock = None
    if database is not None:
        lock = claim_database(str(database), what="simulator", host=host, port=port, setting="--database")
    try:
        app = build_standalone_app(
            webhook_url=webhook_url, secret=secret, api_key=api_key, scenarios_dir=scenarios_dir, database=database
        )
        uvicorn.run(app, host=host, port=port)
    finally:
        if lock is not None:
            lock.release()
