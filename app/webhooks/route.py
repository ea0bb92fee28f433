"""``POST /webhooks/sudoiq``: read the raw body, verify, store, answer.

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
from app.protocol import RunStatus
from app.runtime import get_runtime
from app.services.ingest import ingest_delivery

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
    """Answers 200 when stored (applied, history or duplicate); 400/401 with
    ``{"error": {"code", "message"}}`` when refused; the raw body is stored either way."""
    runtime = get_runtime()
    body = await request.body()
    headers = dict(request.headers)
    outcome = await asyncio.to_thread(
        lambda: ingest_delivery(engine=runtime.engine, secret=runtime.secret, body=body, headers=headers)
    )
    runtime.delivered(outcome)
    return JSONResponse(outcome.body, status_code=outcome.status_code)
