"""``/api`` routes for a stored delivery's tools: *Copy as curl*, and a replay's diff against its original.

The list with its search (``q``) is ``GET /api/deliveries`` in ``run_routes``.
"""

from __future__ import annotations

import asyncio
import time

from fastapi import APIRouter, Depends, Request

from app.api.common import Id, require_json
from app.auth.access import is_admin, need
from app.runtime import get_runtime
from app.services import delivery_curl, delivery_diff
from app.states import Role

router = APIRouter(prefix="/api", tags=["api"], dependencies=[Depends(require_json)])
"""A delivery's curl command and a replay's diff; ``app.api`` mounts it."""


@router.get(
    "/deliveries/{delivery_id}/curl",
    dependencies=[Depends(need(Role.VIEWER))],
    response_model=delivery_curl.CurlCommand,
    summary="A curl command that sends the delivery's exact body and headers to the webhook again",
)
async def delivery_curl_command(delivery_id: Id, request: Request) -> delivery_curl.CurlCommand:
    """Signed anew (a fresh ``webhook-timestamp``, the console's current secret) only for a delivery the
    platform's signature vouched for (applied, history or duplicate, not made in the console) and only for an
    admin; otherwise without ``webhook-timestamp`` and ``webhook-signature``, and ``note`` says why (case C16).
    404 for an unknown delivery."""
    runtime = get_runtime()
    secret = runtime.secret if is_admin(request) else None
    url = runtime.settings.webhook_url
    return await asyncio.to_thread(
        lambda: delivery_curl.curl_command(
            engine=runtime.engine, delivery_id=delivery_id, url=url, secret=secret, now=time.time()
        )
    )


@router.get(
    "/deliveries/{delivery_id}/diff",
    dependencies=[Depends(need(Role.VIEWER))],
    response_model=delivery_diff.DeliveryDiff,
    summary="A replay against the delivery it replays: fields, headers and body, unified and side by side",
)
async def delivery_diff_view(delivery_id: Id, request: Request) -> delivery_diff.DeliveryDiff:
    """404 for an unknown delivery, one that is not a replay, or one whose original is no longer stored. The
    original's ``webhook-signature`` only for an admin."""
    engine, admin = get_runtime().engine, is_admin(request)
    return await asyncio.to_thread(
        lambda: delivery_diff.delivery_diff(engine=engine, delivery_id=delivery_id, admin=admin)
    )
