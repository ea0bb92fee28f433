"""Run the simulator on its own (``python -m app simulate`` or ``python -m app.simulator``)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from pathlib import Path

import httpx
from fastapi import FastAPI

from app.simulator.api import build_router
from app.simulator.engine import Simulator
from app.simulator.scenario import DEFAULT_SCENARIOS_DIR, load_scenarios


def build_standalone_app(
    *,
    webhook_url: str,
    secret: str,
    api_key: str,
    scenarios_dir: Path = DEFAULT_SCENARIOS_DIR,
    round_ttl: float = 600.0,
    retry_schedule: Sequence[float] = (0.5, 1, 2, 5, 10),
) -> FastAPI:
    """A bare FastAPI app serving the router at the contract's paths (no prefix).

    Scenarios are loaded now, so a bad file (or a secret that is not
    ``whsec_<base64>``) raises ``ValueError`` before any server starts.
    The simulator and its HTTP client close with the app.
    """
    scenarios = load_scenarios(scenarios_dir)
    http = httpx.AsyncClient()
    simulator = Simulator(
        scenarios=scenarios, webhook_url=webhook_url, secret=secret, api_key=api_key,
        http=http, round_ttl=round_ttl, retry_schedule=retry_schedule,
    )  # fmt: skip

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        try:
            yield
        finally:
            await simulator.aclose()
            await http.aclose()

    app = FastAPI(title="Tooldesk platform simulator", lifespan=lifespan)
    app.include_router(build_router(simulator))
    app.state.simulator = simulator
    return app


def serve_standalone(
    *, host: str, port: int, webhook_url: str, secret: str, api_key: str, scenarios_dir: Path = DEFAULT_SCENARIOS_DIR
) -> None:
    """Serve the simulator under uvicorn until interrupted; raises ``ValueError`` on a bad scenario file."""
    import uvicorn

    app = build_standalone_app(webhook_url=webhook_url, secret=secret, api_key=api_key, scenarios_dir=scenarios_dir)
    uvicorn.run(app, host=host, port=port)
