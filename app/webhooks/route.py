"""``POST /webhooks/sudoiq``: read the raw body (never past the size limit), verify, store, answer.

The answer is sent only after the delivery's transaction has committed
(contract, "Webhook delivery": "answer 2xx only after the delivery is stored
durably"). Database work runs in a thread so the event loop keeps serving.
The route reads the raw bytes itself (the signature covers them exactly), so
its body, a ``RunStatus``, is documented through ``openapi_extra``; the
``/api`` content-type rule does not apply here.
"""

from __future__ import annotations

import asyncio

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from app.api.common import json_body
from app.config import WEBHOOK_PATH
from app.errors import BodyTimeout, RateLimited
from app.protocol import RunStatus
from app.runtime import get_runtime
from app.services.ingest import ingest_delivery
from app.webhooks.body import read_body

router = APIRouter(tags=["webhooks"])
"""The webhook route; ``app.main`` mounts it."""


@router.post(
    WEBHOOK_PATH,
    summary="Receive a signed run status from the platform",
    openapi_extra=json_body(
        RunStatus, "the run's status, signed per Standard Webhooks (webhook-id, webhook-timestamp, webhook-signature)"
    ),
)
async def receive_delivery(request: Request) -> JSONResponse:
    """Answers 200 when stored (applied, history or duplicate); 400/401 with ``{"error": {"code", "message"}}``
    when refused, and 413 for a body over ``TOOLDESK_MAX_BODY_BYTES`` (refused by its ``Content-Length`` before
    reading, or as soon as the streamed bytes pass the limit, without reading the rest). Every answer comes after
    the request is stored: whole when verified, its first 4 KB, length and SHA-256 when refused. Past
    ``TOOLDESK_REFUSED_RATE`` refusals a minute from one address the answer is 429 with ``Retry-After`` and
    nothing is stored (``app.webhooks.limits``); a body that takes longer than 10 s to arrive is answered 408
    ``body_timeout`` and not stored (``app.webhooks.body``)."""
    runtime = get_runtime()
    headers = dict(request.headers)
    limit = runtime.settings.max_body_bytes
    try:
        body = await read_body(chunks=request.stream(), headers=headers, limit=limit)
    except BodyTimeout as exc:
        return JSONResponse(exc.body(), status_code=exc.status)
    source = request.client.host if request.client else "unknown"
    try:
        outcome = await asyncio.to_thread(
            lambda: ingest_delivery(
                engine=runtime.engine,
                secret=runtime.webhook_secrets,
                body=body,
                headers=headers,
                limiter=runtime.refusals,
                source=source,
                max_body_bytes=limit,
            )
        )
    except RateLimited as exc:
        return JSONResponse(exc.body(), status_code=exc.status, headers={"Retry-After": str(exc.retry_after)})
    runtime.delivered(outcome)
    return JSONResponse(outcome.body, status_code=outcome.status_code)
