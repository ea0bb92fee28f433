"""Liveness and readiness for a container's or an orchestrator's probes: ``GET /healthz`` and ``GET /readyz``.

Both are open without sign-in (``app.auth.gate.OPEN_PATHS``), answer whatever ``Host`` a probe sends
(``app.guard.HostCheck``: Docker's ``HEALTHCHECK`` calls 127.0.0.1, Kubernetes the pod's address) and tell nothing
secret: no path, no key, no secret, only which check failed and the setting to look at.

Both answer ``HEAD`` too, and the same with a trailing slash (no redirect: a probe may not follow one).

- ``GET /healthz``: liveness. 200 ``{"status": "ok"}`` as long as the process serves requests; no database work,
  so a busy or missing database never gets the container restarted (that would not bring the file back).
- ``GET /readyz``: readiness. 200 ``{"status": "ready", "checks": {...}}`` or 503 ``{"status": "not ready",
  "reason": "...", "checks": {...}}``, each check ``{"ok", "detail"}``:

  - ``database``: a trivial query (count the ``setting`` rows) through the console's engine, all within
    ``DATABASE_DEADLINE`` seconds; for SQLite first the same query on a fresh read-only connection to the file, so
    a file deleted, moved or unmounted under the running console (which would go on writing to a file nobody can
    open again) is seen at once, and never made anew by the probe; then that the file and its folder are writable
    by the process (a read-only volume answers every read);
  - ``platform``: the settings the platform needs. When the console listens on every address (``0.0.0.0``, as in
    the container), ``TOOLDESK_PUBLIC_URL``: else the platform is told to call ``http://0.0.0.0:8080``, and even the
    embedded simulator, which calls that address, is refused by the Host check (``app.guard``). A real platform
    (``TOOLDESK_PLATFORM_URL``) also needs ``TOOLDESK_PLATFORM_API_KEY`` set (the built-in default is the
    simulator's).

Neither answers 500: any unexpected error of a check is that check's failure, in words.
"""

from __future__ import annotations

import asyncio
import os
import sqlite3
from pathlib import Path
from typing import Literal

from fastapi import APIRouter
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from sqlalchemy import Engine, func
from sqlalchemy.exc import SQLAlchemyError
from sqlmodel import select

from app.config import Settings
from app.guard import WILDCARD_ADDRESSES
from app.models import Setting
from app.runtime import get_runtime

router = APIRouter(tags=["health"])

DATABASE_DEADLINE = 5.0
"""Seconds the database check may take before readiness says the database does not answer."""
FILE_BUSY_TIMEOUT = 1.0
"""Seconds the read-only probe of a SQLite file waits on a lock."""


class Liveness(BaseModel):
    status: Literal["ok"] = "ok"


class Check(BaseModel):
    """One readiness check: ``ok`` and what was found, in words."""

    ok: bool
    detail: str


class Readiness(BaseModel):
    """``status`` "ready" (200) or "not ready" (503, with ``reason``: every failed check's detail)."""

    status: Literal["ready", "not ready"]
    reason: str | None = None
    checks: dict[str, Check]


PROBE_METHODS = ["GET", "HEAD"]
"""Probes may ask with ``HEAD`` (some load balancers do): the same status, no body."""


@router.api_route("/healthz", methods=["HEAD"], include_in_schema=False)
@router.get(
    "/healthz",
    response_model=Liveness,
    summary="liveness: the process answers (no database work)",
)
@router.api_route("/healthz/", methods=PROBE_METHODS, include_in_schema=False)
async def healthz() -> Liveness:
    return Liveness()


@router.api_route("/readyz/", methods=PROBE_METHODS, include_in_schema=False)
@router.api_route("/readyz", methods=["HEAD"], include_in_schema=False)
@router.get(
    "/readyz",
    response_model=Readiness,
    summary="readiness: the database answers and the platform settings are complete (503 with the reason if not)",
    responses={503: {"model": Readiness, "description": "not ready: `reason` says which check failed and why"}},
)
async def readyz() -> JSONResponse:
    checks: dict[str, Check] = {}
    try:
        runtime = get_runtime()
    except Exception as exc:  # not built yet, or torn down
        checks["console"] = Check(ok=False, detail=f"the console is not started ({_said(exc)})")
    else:
        checks["database"] = await _database_check(runtime.engine, runtime.settings)
        checks["platform"] = _platform_check(runtime.settings)
    failed = [f"{name}: {check.detail}" for name, check in checks.items() if not check.ok]
    body = Readiness(status="not ready" if failed else "ready", reason="; ".join(failed) or None, checks=checks)
    return JSONResponse(body.model_dump(), status_code=503 if failed else 200)


async def _database_check(engine: Engine, settings: Settings) -> Check:
    try:
        return await asyncio.wait_for(asyncio.to_thread(_query, engine, settings), timeout=DATABASE_DEADLINE)
    except TimeoutError:
        return Check(ok=False, detail=f"the database did not answer within {DATABASE_DEADLINE:g} s")
    except Exception as exc:
        return Check(ok=False, detail=f"the database query failed ({_said(exc)})")


def _query(engine: Engine, settings: Settings) -> Check:
    """Blocking: (SQLite) the file's own read-only query first, so a missing file is not made anew by a fresh
    connection of the engine's pool; then the engine's query."""
    sqlite = engine.dialect.name == "sqlite"
    if sqlite:
        try:
            uri = Path(settings.database_path).resolve().as_uri() + "?mode=ro"
            probe = sqlite3.connect(uri, uri=True, timeout=FILE_BUSY_TIMEOUT)
            try:
                probe.execute("SELECT count(*) FROM setting").fetchone()
            finally:
                probe.close()
        except sqlite3.Error as exc:
            return Check(
                ok=False,
                detail=f"the SQLite file of TOOLDESK_DATABASE_URL cannot be read ({exc}): was it deleted or moved, or "
                "its volume unmounted? The console goes on writing to the file it opened, which nobody can open "
                "again",
            )
        unwritable = _unwritable(Path(settings.database_path))
        if unwritable:
            return Check(ok=False, detail=unwritable)
    try:
        with engine.connect() as connection:
            connection.execute(select(func.count()).select_from(Setting)).scalar_one()
    except SQLAlchemyError as exc:
        return Check(ok=False, detail=f"the database query failed ({_said(exc)})")
    if sqlite:
        return Check(ok=True, detail="sqlite: the file opens, and a query answered")
    return Check(ok=True, detail=f"{engine.dialect.name}: a query answered")


def _unwritable(path: Path) -> str:
    """Why the console cannot write ``path`` (a SQLite file in WAL mode: the file and its folder, where the
    ``-wal`` and ``-shm`` files live), or ``""``. A read-only file or volume lets every read through, so only
    this check tells a probe that deliveries and sign-ins would fail."""
    for target, what in ((path, "the SQLite file"), (path.parent, "the SQLite file's folder")):
        if not os.access(target, os.W_OK):
            return (
                f"{what} of TOOLDESK_DATABASE_URL is not writable by this process (uid {os.getuid()}): a read-only "
                "file or volume; deliveries and sign-ins would fail"
            )
    return ""


def _platform_check(settings: Settings) -> Check:
    missing = []
    if settings.host in WILDCARD_ADDRESSES and not settings.public_url:
        caller = "the embedded simulator" if settings.embedded_simulator else "the platform"
        missing.append(
            f"TOOLDESK_PUBLIC_URL is not set: {caller} would be told to call {settings.webhook_url}, which it cannot "
            "reach (the console answers only its own Host names)"
        )
    if not settings.embedded_simulator and "platform_api_key" not in settings.model_fields_set:
        missing.append(
            "TOOLDESK_PLATFORM_API_KEY is not set: the platform would refuse every call with the simulator's "
            "built-in key"
        )
    if missing:
        return Check(ok=False, detail="; ".join(missing))
    if settings.embedded_simulator:
        return Check(ok=True, detail="the embedded simulator (no TOOLDESK_PLATFORM_URL)")
    return Check(ok=True, detail="TOOLDESK_PLATFORM_URL, TOOLDESK_PLATFORM_API_KEY and the webhook address are set")


def _said(exc: BaseException) -> str:
    """An error in one line: its class and the first line of its message (a DBAPI error's own, without SQL)."""
    original = getattr(exc, "orig", None) or exc
    text = str(original).strip().splitlines()
    return type(original).__name__ + (f": {text[0]}" if text else "")
