"""The running console's parts, built once per process by ``app.main``.

``Runtime`` holds the settings, the database engine, the webhook secrets (the
current one, and the previous one for a while after a rotation), the platform client, the failed sign-ins (``throttle``) and, when no platform URL is
set, the embedded simulator.
Pages and routes reach it through ``get_runtime()``.

After a service has changed something, routes, pages and ``app.main`` call one
of the runtime's after-change methods (``delivered``, ``deliveries_stored`` (the webhook's
writer, once per committed batch), ``run_started``,
``run_replayed``, ``sweep_created``, ``round_answered``, ``handlers_changed``, ``agents_changed``,
``runs_reconciled``, ``secret_rotated``): each tells open pages and, where handlers may now answer,
starts the responder in the background; those that follow a change to runs also kick the runs search's indexing
step (``search_index``, ``app.services.run_index``). Nothing else emits ``app.changes``.

On PostgreSQL ``relay`` (``app.change_relay``) tells the other consoles on the same database what this one
changed, and feeds what they changed into ``app.changes``; started by ``app.main`` with the outbox.
"""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass, field

import httpx
from nicegui import background_tasks
from sqlalchemy import Engine
from sqlalchemy.exc import SQLAlchemyError
from sqlmodel import Session, func, select

from app.auth.identity import new_secret
from app.auth.throttle import SignInThrottle
from app.change_relay import ChangeRelay
from app.changes import changes
from app.config import Settings
from app.db import make_engine
from app.errors import SettingsError
from app.handlers.rules_pool import close_rules_pool, rules_pool
from app.handlers.sandbox import Sandbox
from app.models import Run
from app.platform.client import PlatformClient
from app.protocol import AWAITING
from app.services import sweeps
from app.services.deliveries import Retention
from app.services.ingest import Outcome
from app.services.outbox import Outbox
from app.services.responder import Responder
from app.services.run_index import SearchIndexer
from app.services.webhook_secret import load_webhook_secrets
from app.simulator import Simulator, load_scenarios, open_store
from app.states import Verdict
from app.webhooks.limits import RefusalLimiter
from app.webhooks.secret_set import WebhookSecrets
from app.webhooks.writer import IngestWriter


@dataclass
class Runtime:
    settings: Settings
    engine: Engine
    webhook_secrets: WebhookSecrets
    http: httpx.AsyncClient
    client: PlatformClient
    simulator: Simulator | None
    outbox: Outbox
    refusals: RefusalLimiter
    retention: Retention
    responder: Responder = field(init=False)
    ingest: IngestWriter = field(init=False)
    search_index: SearchIndexer = field(init=False)
    relay: ChangeRelay | None = field(init=False, default=None)
    throttle: SignInThrottle = field(default_factory=SignInThrottle)
    _sandbox: Sandbox | None = None
    _sandbox_lock: asyncio.Lock = field(default_factory=asyncio.Lock)

    def __post_init__(self) -> None:
        self.responder = Responder(engine=self.engine, outbox=self.outbox, sandbox=self.sandbox, on_change=changes.emit)
        self.search_index = SearchIndexer(engine=self.engine, busy=lambda: self.ingest.in_flight > 0)
        self.outbox.on_run_checked = lambda task_id: self.runs_reconciled([task_id])
        self.ingest = IngestWriter(
            engine=self.engine,
            secrets=lambda: self.webhook_secrets,
            limiter=self.refusals,
            max_body_bytes=self.settings.max_body_bytes,
            queue_cap=self.settings.ingest_queue,
            on_stored=self.deliveries_stored,
        )
        if self.engine.dialect.name == "postgresql":  # other consoles may share the database
            self.relay = ChangeRelay(url=self.engine.url, changes=changes, on_secret=self._secret_elsewhere)

    @property
    def secret(self) -> str:
        """The current webhook secret, ``whsec_<base64>``: what replays and the embedded simulator sign with."""
        return self.webhook_secrets.current

    async def sandbox(self) -> Sandbox:
        """The snippet sandbox, started on first use (or warmed at start by ``python -m app``); its first start also
        starts the rules handlers' workers (``rules_pool``), so both are warm when the console serves."""
        async with self._sandbox_lock:
            if self._sandbox is None:
                with contextlib.suppress(Exception):  # a rules call starts them again and answers why not
                    await rules_pool()
                sandbox = Sandbox(
                    workers=self.settings.sandbox_workers,
                    timeout=self.settings.sandbox_timeout,
                    memory_mb=self.settings.sandbox_memory_mb,
                    bwrap=self.settings.sandbox_bwrap,
                    unconfined=self.settings.sandbox_unconfined,
                )
                await sandbox.start()
                self._sandbox = sandbox
            return self._sandbox

    def delivered(self, outcome: Outcome) -> None:
        """After any delivery is stored: tell open pages (0 when the run is unknown, e.g. a refused body), and
        let handlers answer a round an applied one opened."""
        changes.emit(outcome.task_id or 0)
        self.search_index.kick()
        if outcome.task_id is not None and outcome.verdict == Verdict.APPLIED:
            self._answer_task(outcome.task_id)

    def deliveries_stored(self, outcomes: list[Outcome]) -> None:
        """After the webhook's writer committed a batch: tell open pages once per run it touched (0 for refused
        ones), and let handlers answer the rounds its applied deliveries opened, once per run. Only an applied
        ``awaiting_tool_calls`` leaves a round pending: any other applied status closed the run's pending rounds
        (``app.services.apply``), so the responder would find nothing there; nor would it for a run nothing may
        answer (``Outcome.answerable``: no handler of its agent, no answers of its own)."""
        touched = dict.fromkeys(outcome.task_id or 0 for outcome in outcomes)
        for task_id in touched:
            changes.emit(task_id)
        self.search_index.kick()
        opened = dict.fromkeys(
            o.task_id
            for o in outcomes
            if o.task_id is not None
            and o.verdict == Verdict.APPLIED
            and o.status == AWAITING
            and o.answerable  # else the responder would find nothing to do
        )
        for task_id in opened:
            self._answer_task(task_id)

    def run_started(self, task_id: int) -> None:
        """After the platform took a new run and it was recorded: tell open pages. Its rounds arrive by webhook
        (``delivered``); one that arrived before the run was recorded is handed to its handlers again now (the
        recorded run may name another handler set, e.g. the demo's)."""
        changes.emit(task_id)
        self.search_index.kick()
        self._answer_task(task_id)

    def sweep_created(self, sweep_id: int) -> None:
        """After ``create_sweep`` stored a sweep: tell open pages, and start its runs in the background
        (``app.services.sweeps.start_sweep_runs``; each started run then goes through ``run_started``)."""
        changes.emit(0)
        starting = sweeps.start_sweep_runs(
            engine=self.engine, client=self.client, sweep_id=sweep_id, on_started=self.run_started
        )
        background_tasks.create(starting, name=f"sweep {sweep_id}")

    def run_replayed(self, *, original: int, started: int) -> None:
        """After ``replay_run`` started run ``started`` from run ``original``: tell open pages about both, and let
        the replay's answers (and handlers) take the new run's rounds as they arrive."""
        changes.emit(original)
        changes.emit(started)
        self.search_index.kick()
        self._answer_task(started)

    def runs_bulk_done(self, *, started: list[int], checked: list[int]) -> None:
        """After a bulk request (``app.services.run_bulk``): ``run_started`` for each new run in ``started``, and
        ``runs_reconciled`` for the runs in ``checked``, whose cancel the platform refused (the console asked it)."""
        for task_id in started:
            self.run_started(task_id)
        if checked:
            self.runs_reconciled(checked)

    def round_answered(self, task_id: int) -> None:
        """After a round of run ``task_id`` was submitted, or refused by the platform: tell open pages."""
        changes.emit(task_id)
        self.search_index.kick()

    def handlers_changed(self) -> None:
        """After a handler was saved, restored, deleted, switched to another mode or imported: tell open pages,
        and let handlers answer the pending rounds they now cover."""
        changes.emit(0)
        self.responder.sweep()

    def agents_changed(self) -> None:
        """After the agent list was synced from the platform: tell open pages."""
        changes.emit(0)

    def runs_reconciled(self, task_ids: list[int]) -> None:
        """After the start-up reconciliation, or asking the platform after a refusal, moved runs ``task_ids``: tell
        open pages, and let handlers answer every pending round (including ones left from before a restart)."""
        for task_id in task_ids:
            changes.emit(task_id)
        self.search_index.kick()
        self.responder.sweep()

    def secret_rotated(self, secrets: WebhookSecrets) -> None:
        """After ``rotate_webhook_secret``: verify with ``secrets`` from now on, and have the embedded simulator
        (the sender) sign its next deliveries with the new current secret at once."""
        self._use_secrets(secrets)
        if self.relay is not None:
            self.relay.send_secret()

    def _use_secrets(self, secrets: WebhookSecrets) -> None:
        self.webhook_secrets = secrets
        if self.simulator is not None:
            self.simulator.use_secret(secrets.current)

    def _secret_elsewhere(self) -> None:
        """Another console on the database rotated the webhook secret: read the stored secrets again."""

        async def reload() -> None:
            configured = self.settings.webhook_secret
            self._use_secrets(await asyncio.to_thread(load_webhook_secrets, engine=self.engine, configured=configured))

        background_tasks.create(reload(), name="webhook secret")

    def _answer_task(self, task_id: int) -> None:
        self.responder.handle_task(task_id)

    async def aclose(self) -> None:
        """Stop the fallback timers, the outbox, the rules workers, the sandbox and the simulator's background work, and
        close HTTP connections; deliveries already taken are stored first."""
        await self.ingest.aclose()
        if self.relay is not None:
            await self.relay.aclose()
        await self.search_index.aclose()
        self.responder.fallbacks.close()
        await self.outbox.aclose()
        await self.retention.aclose()
        await close_rules_pool()
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
        webhook_secrets = load_webhook_secrets(engine=engine, configured=settings.webhook_secret)
    except (OSError, SQLAlchemyError) as exc:
        reason = getattr(exc, "orig", None) or exc
        advice = "choose a writable file path" if settings.database_is_sqlite else "is the server up, the URL right?"
        raise SettingsError(
            f"bad setting: TOOLDESK_DATABASE_URL: cannot open {settings.database_label} ({_first_line(reason)}): "
            + advice
        ) from None
    if settings.embedded_simulator and "platform_api_key" not in settings.model_fields_set:
        # the default key is public (it is in the README): anyone reaching the port could otherwise answer rounds,
        # read every tool result and make faults through /sim, whatever their role
        settings = settings.model_copy(update={"platform_api_key": new_secret("sim_")})
    http = httpx.AsyncClient(transport=transport, trust_env=False)
    client = PlatformClient(http, base_url=settings.api_base_url, api_key=settings.platform_api_key)
    simulator = None
    if settings.embedded_simulator:
        try:
            scenarios = load_scenarios(settings.scenarios_dir)
        except ValueError as exc:
            raise SettingsError(f"bad setting: TOOLDESK_SCENARIOS_DIR: {exc}") from None
        simulator = Simulator(
            store=open_store(settings.database_url),  # its sim_* tables, in the console's file
            scenarios=scenarios,
            webhook_url=settings.webhook_url,
            secret=webhook_secrets.current,
            api_key=settings.platform_api_key,
            http=http,
            round_ttl=settings.round_ttl,
            retry_schedule=settings.retry_schedule,
            first_task_id=_first_task_id(engine),
            step_delay=settings.step_delay,
        )
    outbox = Outbox(engine=engine, client=client, on_change=changes.emit, first_retry=settings.outbox_retry)
    retention = Retention(engine=engine, hours=settings.refused_retention, keep=settings.refused_keep)
    _current = Runtime(
        settings=settings,
        engine=engine,
        webhook_secrets=webhook_secrets,
        http=http,
        client=client,
        simulator=simulator,
        outbox=outbox,
        refusals=RefusalLimiter(rate=settings.refused_rate),
        retention=retention,
    )
    return _current


def get_runtime() -> Runtime:
    """The runtime built by ``app.main``; raises ``RuntimeError`` before that."""
    if _current is None:
        raise RuntimeError("the console is not started: run `python -m app`")
    return _current


def _first_line(reason: object) -> str:
    """A driver's error in one line: psycopg adds the failed connection's details on lines of their own."""
    lines = str(reason).strip().splitlines()
    return lines[0] if lines else type(reason).__name__


def _first_task_id(engine: Engine) -> int:
    """Above every stored task_id, so a restarted simulator never reuses one."""
    with Session(engine) as session:
        highest = session.exec(select(func.max(Run.task_id))).one()
    return max(int(highest or 0) + 1, 1001)
