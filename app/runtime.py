"""The running console's parts, built once per process by ``app.main``.

``Runtime`` holds the settings, the database engine, the webhook secret, the
platform client and, when no platform URL is set, the embedded simulator.
Pages and routes reach it through ``get_runtime()``.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field

import httpx
from nicegui import background_tasks
from sqlalchemy import Engine
from sqlalchemy.exc import SQLAlchemyError
from sqlmodel import Session, func, select

from app.config import Settings
from app.db import ensure_webhook_secret, make_engine
from app.errors import SettingsError
from app.handlers.sandbox import Sandbox
from app.models import Run
from app.platform.client import PlatformClient
from app.services.bus import changes
from app.services.ingest import Outcome
from app.services.outbox import Outbox
from app.services.responder import Responder
from app.simulator import Simulator, load_scenarios
from app.states import Verdict


@dataclass
class Runtime:
    settings: Settings
    engine: Engine
    secret: str
    http: httpx.AsyncClient
    client: PlatformClient
    simulator: Simulator | None
    outbox: Outbox
    responder: Responder = field(init=False)
    _sandbox: Sandbox | None = None
    _sandbox_lock: asyncio.Lock = field(default_factory=asyncio.Lock)

    def __post_init__(self) -> None:
        self.responder = Responder(engine=self.engine, outbox=self.outbox, sandbox=self.sandbox, on_change=changes.emit)

    async def sandbox(self) -> Sandbox:
        """The snippet sandbox, started on first use (or warmed at start by ``python -m app``)."""
        async with self._sandbox_lock:
            if self._sandbox is None:
                sandbox = Sandbox(
                    workers=self.settings.sandbox_workers,
                    timeout=self.settings.sandbox_timeout,
                    memory_mb=self.settings.sandbox_memory_mb,
                )
                await sandbox.start()
                self._sandbox = sandbox
            return self._sandbox

    def delivered(self, outcome: Outcome) -> None:
        """After any delivery is stored: tell open pages (0 when the run is unknown, e.g. a refused body), and
        let handlers answer a round an applied one opened."""
        changes.emit(outcome.task_id or 0)
        if outcome.task_id is not None and outcome.verdict == Verdict.APPLIED:
            background_tasks.create(self.responder.handle_task(outcome.task_id), name="handlers")

    async def aclose(self) -> None:
        """Stop the outbox, the sandbox and the simulator's background work, and close HTTP connections."""
        await self.outbox.aclose()
        if self._sandbox is not None:
            await self._sandbox.aclose()
        if self.simulator is not None:
            await self.simulator.aclose()
        await self.http.aclose()
        self.engine.dispose()


_current: Runtime | None = None


def build_runtime(settings: Settings, *, transport: httpx.AsyncBaseTransport | None = None) -> Runtime:
    """Open the database, settle the webhook secret, and make the client and simulator.

    ``transport``: where HTTP goes; ``None`` is the network. Under NiceGUI's user
    simulation no socket is listening, so ``app.main`` passes an
    ``httpx.ASGITransport`` onto the app itself.
    """
    global _current
    try:
        engine = make_engine(settings.database_url)
        secret = ensure_webhook_secret(engine, settings.webhook_secret)
    except (OSError, SQLAlchemyError) as exc:
        reason = getattr(exc, "orig", None) or exc
        raise SettingsError(
            f"bad setting: TOOLDESK_DATABASE_URL: cannot open {settings.database_path} ({reason}): "
            "choose a writable file path"
        ) from None
    http = httpx.AsyncClient(transport=transport, trust_env=False)
    client = PlatformClient(http, base_url=settings.api_base_url, api_key=settings.platform_api_key)
    simulator = None
    if settings.embedded_simulator:
        try:
            scenarios = load_scenarios(settings.scenarios_dir)
        except ValueError as exc:
            raise SettingsError(f"bad setting: TOOLDESK_SCENARIOS_DIR: {exc}") from None
        simulator = Simulator(
            scenarios=scenarios,
            webhook_url=settings.webhook_url,
            secret=secret,
            api_key=settings.platform_api_key,
            http=http,
            round_ttl=settings.round_ttl,
            retry_schedule=settings.retry_schedule,
            first_task_id=_first_task_id(engine),
            step_delay=settings.step_delay,
        )
    outbox = Outbox(engine=engine, client=client, on_change=changes.emit, first_retry=settings.outbox_retry)
    _current = Runtime(
        settings=settings, engine=engine, secret=secret, http=http, client=client, simulator=simulator, outbox=outbox
    )
    return _current


def get_runtime() -> Runtime:
    """The runtime built by ``app.main``; raises ``RuntimeError`` before that."""
    if _current is None:
        raise RuntimeError("the console is not started: run `python -m app`")
    return _current


def _first_task_id(engine: Engine) -> int:
    """Above every stored task_id, so a restarted simulator never reuses one."""
    with Session(engine) as session:
        highest = session.exec(select(func.max(Run.task_id))).one()
    return max(int(highest or 0) + 1, 1001)
