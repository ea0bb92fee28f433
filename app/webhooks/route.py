"""``POST /webhooks/sudoiq`` as a FastAPI route: what ``/docs`` shows, and the fallback behind the fast path.

Requests are served by ``app.webhooks.fast_path`` in front of every other middleware; this route is registered so
the webhook is documented in the OpenAPI schema (its body, a ``RunStatus``, through ``openapi_extra``: the raw
bytes are read, since the signature covers them exactly) and so that other methods on the path get FastAPI's 405
in the contract's shape. Both answer through ``app.webhooks.receive.take_delivery``: only after the delivery's
batch has committed (contract, "Webhook delivery": "answer 2xx only after the delivery is stored durably").
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import Response

from app.api.common import json_body
from app.config import WEBHOOK_PATH
from app.protocol import RunStatus
from app.runtime import get_runtime
from app.webhooks.receive import take_delivery

router = APIRouter(tags=["webhooks"])
"""The webhook route; ``app.main`` mounts it."""


@router.post(
    WEBHOOK_PATH,
    summary="Receive a signed run status from the platform",
    openapi_extra=json_body(
        RunStatus, "the run's status, signed per Standard Webhooks (webhook-id, webhook-timestamp, webhook-signature)"
    ),
)
async def receive_delivery(request: Request) -> Response:
    """Answers 200 when stored (applied, history or duplicate); 400/401 with ``{"error": {"code", "message"}}``
    when refused, and 413 for a body over ``TOOLDESK_MAX_BODY_BYTES`` (refused by its ``Content-Length`` before
    reading, or as soon as the streamed bytes pass the limit, without reading the rest). Every answer comes after
    the request is stored: whole when verified, its first 4 KB, length and SHA-256 when refused. Past
    ``TOOLDESK_REFUSED_RATE`` refusals a minute from one address the answer is 429 with ``Retry-After`` and
    nothing is stored (``app.webhooks.limits``); a body that takes longer than 10 s to arrive is answered 408
    ``body_timeout`` and not stored (``app.webhooks.body``); past ``TOOLDESK_INGEST_QUEUE`` deliveries waiting
    for their commit, 503 ``overloaded`` with ``Retry-After`` at once, nothing stored (``app.webhooks.writer``)."""
    answer = await take_delivery(
        runtime=get_runtime(),
        headers=dict(request.headers),
        chunks=request.stream(),
        source=request.client.host if request.client else "unknown",
    )
    headers = {name.decode(): value.decode() for name, value in answer.headers}
    return Response(answer.body, status_code=answer.status, headers=headers, media_type="application/json")
