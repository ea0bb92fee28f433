"""The webhook secret and its rotation.

The secret is ``TOOLDESK_WEBHOOK_SECRET`` when that is set (it wins, and cannot be rotated from the console),
else the one kept in the ``Setting`` table (generated on first start, ``app.db.ensure_webhook_secret``). A
rotation stores a new current secret and keeps the one it replaces as ``previous`` with an expiry: until then a
delivery signed with either is accepted (Standard Webhooks, several signatures during a switch). Blocking
(SQLite): from async code, call these through ``asyncio.to_thread``.
"""

from __future__ import annotations

import time

from sqlalchemy import Engine

from app.db import ensure_webhook_secret, new_webhook_secret, read_session, write_session
from app.errors import BadRequest, RotationRefused
from app.models import Setting
from app.webhooks.secret_set import WebhookSecrets

CURRENT = "webhook_secret"
PREVIOUS = "webhook_secret_previous"
PREVIOUS_UNTIL = "webhook_secret_previous_until"
MAX_WINDOW = 30 * 86400.0
"""The longest window a rotation may give the previous secret, in seconds (30 days)."""


def load_webhook_secrets(*, engine: Engine, configured: str) -> WebhookSecrets:
    """The secrets to verify with: ``configured`` (``TOOLDESK_WEBHOOK_SECRET``) alone when set, else the stored
    current secret (made on first use) and the previous one with its expiry, if a rotation left one."""
    if configured:
        return WebhookSecrets(current=configured, from_env=True)
    current = ensure_webhook_secret(engine, "")
    with read_session(engine) as session:
        previous = session.get(Setting, PREVIOUS)
        until = session.get(Setting, PREVIOUS_UNTIL)
    if previous is None or until is None:
        return WebhookSecrets(current=current)
    return WebhookSecrets(current=current, previous=previous.value, previous_until=float(until.value))


def rotate_webhook_secret(
    *, engine: Engine, configured: str, window_seconds: float, now: float | None = None
) -> WebhookSecrets:
    """Store a new current secret; the one it replaces stays accepted for ``window_seconds`` (0 to 30 days; 0
    refuses it at once) from ``now`` (Unix seconds, default the clock). A secret left from an earlier rotation
    is dropped: at most two are accepted. Returns the new set.

    Raises ``RotationRefused`` (409) when ``configured`` (``TOOLDESK_WEBHOOK_SECRET``) is set, and
    ``BadRequest`` (422) for a window out of range.
    """
    if configured:
        raise RotationRefused(
            "the secret comes from TOOLDESK_WEBHOOK_SECRET: change it there and restart (and give the platform "
            "the new one)"
        )
    if not 0 <= window_seconds <= MAX_WINDOW:
        raise BadRequest(f"window_seconds {window_seconds:g} is out of range: use 0 to {MAX_WINDOW:g} seconds")
    until = (time.time() if now is None else now) + window_seconds
    current = new_webhook_secret()
    with write_session(engine) as session:
        stored = session.get(Setting, CURRENT)
        old = stored.value if stored is not None else current
        for key, value in ((CURRENT, current), (PREVIOUS, old), (PREVIOUS_UNTIL, repr(until))):
            row = session.get(Setting, key)
            if row is None:
                session.add(Setting(key=key, value=value))
            else:
                row.value = value
    return WebhookSecrets(current=current, previous=old, previous_until=until)
