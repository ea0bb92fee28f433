"""The audit: who changed handlers, modes, settings, users or tokens, and when (the Audit page, ``GET /api/audit``).

Recorded in one place: a SQLAlchemy ``before_flush`` hook on every ORM session looks at the rows a flush writes and
adds an ``AuditEntry`` in the same transaction, so no change is stored without its line and no service or page has
to remember to write one. What it records:

- a new ``HandlerVersion``: a handler saved (from the editor, the API or *Save as rule*), restored, imported
  (config import) or switched to another mode, told apart by the version's note (``app.services.handler_store``);
- a deleted ``Handler``;
- a changed ``webhook_secret_previous_until`` setting: the webhook secret rotated;
- a ``User`` added, its password or role changed, or removed; an ``ApiToken`` created or revoked.

*Who* is whoever the request or event proved to be: ``Need`` (``app.auth.access``) names the API caller into the
holder ``request_scope`` opened for the request (``app.auth.gate``), and ``guarded`` (``app.ui.access``) wraps a
page's event handler in ``acting``. Both survive ``asyncio.to_thread`` (it copies the context; the holder is
shared). Anything else is ``the console``.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Engine, event, inspect
from sqlalchemy.orm import Session as OrmSession
from sqlmodel import Session, col, func, select

from app.auth.identity import Identity
from app.models import Agent, ApiToken, AuditEntry, AuditPublic, Handler, HandlerVersion, Setting, User
from app.states import AuditAction

NOBODY = "the console"
"""Who a change is recorded for when no request or page event asked for it (e.g. the first-start admin)."""

COMMAND_LINE = "command line"
"""Who changes made by ``python -m app user ...``, ``token ...`` and ``import`` are recorded for."""

PREVIOUS_UNTIL = "webhook_secret_previous_until"
"""The setting a rotation writes (``app.services.webhook_secret.PREVIOUS_UNTIL``)."""


@dataclass
class _Actor:
    name: str = ""


_actor: ContextVar[_Actor | None] = ContextVar("audit_actor", default=None)


def who(identity: Identity) -> str:
    """How an identity is named in the audit: the user's name, ``token NAME`` (an API token's identity is named
    so already), or ``sign-in off``."""
    return identity.name


@contextmanager
def request_scope() -> Iterator[None]:
    """Open an empty holder for one HTTP request; ``act_as`` fills it once the caller is known (even from a
    worker thread, where FastAPI runs sync dependencies)."""
    token = _actor.set(_Actor())
    try:
        yield
    finally:
        _actor.reset(token)


@contextmanager
def acting(name: str) -> Iterator[None]:
    """Record changes made inside the block (and in threads it starts) as ``name``'s."""
    token = _actor.set(_Actor(name))
    try:
        yield
    finally:
        _actor.reset(token)


def act_as(identity: Identity) -> None:
    """Name the caller of the current request (``request_scope``), or of the current context when there is none."""
    holder = _actor.get()
    if holder is None:
        _actor.set(_Actor(who(identity)))
    else:
        holder.name = who(identity)


def run_as(name: str) -> None:
    """Record every later change in this context as ``name``'s: for ``python -m app ...`` (one process, one caller)."""
    _actor.set(_Actor(name))


def current_actor() -> str:
    """Who the changes made now are recorded for."""
    holder = _actor.get()
    return holder.name if holder is not None and holder.name else NOBODY


def list_audit(*, engine: Engine, limit: int = 50, offset: int = 0) -> tuple[list[AuditPublic], int]:
    """One page of audit lines, newest first, and how many there are."""
    with Session(engine) as session:
        total = session.exec(select(func.count()).select_from(AuditEntry)).one()
        rows = session.exec(
            select(AuditEntry).order_by(col(AuditEntry.id).desc()).offset(max(offset, 0)).limit(max(limit, 1))
        ).all()
        return [AuditPublic.model_validate(row, from_attributes=True) for row in rows], int(total)


@event.listens_for(OrmSession, "before_flush")
def _record(session: OrmSession, _context: Any, _instances: Any) -> None:
    lines: list[tuple[AuditAction, str]] = []
    with session.no_autoflush:
        for row in list(session.new):
            lines += _added(session, row)
        for row in list(session.dirty):
            lines += _changed(row)
        for row in list(session.deleted):
            lines += _removed(session, row)
    if not lines:
        return
    name, now = current_actor(), time.time()
    for action, detail in lines:
        session.add(AuditEntry(at=now, who=name, action=action, detail=detail[:500]))


def _added(session: OrmSession, row: Any) -> list[tuple[AuditAction, str]]:
    if isinstance(row, HandlerVersion):
        handler = session.get(Handler, row.handler_id)
        where = _where(session, handler) if handler is not None else f"handler {row.handler_id}"
        detail = f"{where} v{row.version} ({row.kind}, {row.mode})" + (f": {row.note}" if row.note else "")
        return [(_version_action(row.note), detail)]
    if isinstance(row, User):
        return [(AuditAction.USER_ADDED, f"{row.name} ({row.role})")]
    if isinstance(row, ApiToken):
        return [(AuditAction.TOKEN_CREATED, f"{row.name} ({row.role})")]
    if isinstance(row, Setting) and row.key == PREVIOUS_UNTIL:
        return [_rotated(row)]
    return []


def _changed(row: Any) -> list[tuple[AuditAction, str]]:
    if isinstance(row, User):
        lines = []
        if _modified(row, "password_hash"):
            lines.append((AuditAction.USER_CHANGED, f"password of {row.name} set"))
        if _modified(row, "role"):
            lines.append((AuditAction.USER_CHANGED, f"{row.name} is now {row.role}"))
        return lines
    if isinstance(row, ApiToken) and _modified(row, "revoked_at") and row.revoked_at is not None:
        return [(AuditAction.TOKEN_REVOKED, f"{row.name} ({row.role}, {row.prefix}…)")]
    if isinstance(row, Setting) and row.key == PREVIOUS_UNTIL and _modified(row, "value"):
        return [_rotated(row)]
    return []


def _removed(session: OrmSession, row: Any) -> list[tuple[AuditAction, str]]:
    if isinstance(row, Handler):
        return [(AuditAction.HANDLER_DELETED, f"{_where(session, row)} (was v{row.version}, {row.kind}, {row.mode})")]
    if isinstance(row, User):
        return [(AuditAction.USER_REMOVED, f"{row.name} ({row.role})")]
    return []


def _version_action(note: str) -> AuditAction:
    """A handler version's action, by the note ``handler_store`` and ``config_io`` give it."""
    if note.startswith("restored version"):
        return AuditAction.HANDLER_RESTORED
    if note.startswith("mode "):
        return AuditAction.MODE_CHANGED
    if note == "imported":
        return AuditAction.HANDLER_IMPORTED
    return AuditAction.HANDLER_SAVED


def _where(session: OrmSession, handler: Handler) -> str:
    agent = session.get(Agent, handler.agent_id)
    return f"{agent.name if agent is not None else handler.agent_id} · {handler.tool_name}"


def _rotated(row: Setting) -> tuple[AuditAction, str]:
    try:
        until = datetime.fromtimestamp(float(row.value), UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
    except (ValueError, OverflowError):
        until = row.value
    return AuditAction.SECRET_ROTATED, f"webhook secret rotated; the previous one is accepted until {until}"


def _modified(row: Any, attribute: str) -> bool:
    return bool(inspect(row).attrs[attribute].history.has_changes())
