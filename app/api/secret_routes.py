"""``/api`` route for the webhook secret: rotating it (admins only). The answer shows secrets masked, never whole."""

from __future__ import annotations

import asyncio

from fastapi import APIRouter, Depends
from pydantic import BaseModel, Field

from app.api.common import require_json
from app.auth.access import need
from app.runtime import get_runtime
from app.services.webhook_secret import MAX_WINDOW, rotate_webhook_secret
from app.states import Role
from app.webhooks.secret_set import WebhookSecrets, mask_secret

router = APIRouter(prefix="/api", tags=["api"], dependencies=[Depends(require_json)])
"""The webhook secret's rotation."""


class RotateIn(BaseModel):
    """How long the secret being replaced stays accepted; ``null`` or absent: ``TOOLDESK_SECRET_ROTATION_WINDOW``."""

    window_seconds: float | None = Field(default=None, ge=0, le=MAX_WINDOW, allow_inf_nan=False)


class RotatedOut(BaseModel):
    """The secrets after a rotation, masked (``whsec_`` and the last 4 characters); ``previous_until`` is Unix
    seconds. The new secret itself is copied from the Users and tokens page."""

    current: str
    previous: str | None
    previous_until: float | None


@router.post(
    "/webhook-secret/rotate",
    dependencies=[Depends(need(Role.ADMIN))],
    response_model=RotatedOut,
    summary="Rotate the webhook secret; the previous one stays accepted for a while",
)
async def rotate_secret(body: RotateIn | None = None) -> RotatedOut:
    """409 ``rotation_refused`` when ``TOOLDESK_WEBHOOK_SECRET`` sets the secret. From the answer on, deliveries
    are verified with both secrets until ``previous_until``, and the embedded simulator signs with the new one."""
    runtime = get_runtime()
    window = (
        runtime.settings.secret_rotation_window if body is None or body.window_seconds is None else body.window_seconds
    )
    rotated = await asyncio.to_thread(
        lambda: rotate_webhook_secret(
            engine=runtime.engine, configured=runtime.settings.webhook_secret, window_seconds=window
        )
    )
    runtime.secret_rotated(rotated)
    return masked(rotated)


def masked(secrets: WebhookSecrets) -> RotatedOut:
    """``secrets`` as an API answer shows them."""
    return RotatedOut(
        current=mask_secret(secrets.current),
        previous=None if secrets.previous is None else mask_secret(secrets.previous),
        previous_until=secrets.previous_until,
    )
