"""``POST /webhooks/sudoiq``: read the raw body, verify, store, answer.

The answer is sent only after the delivery's transaction has committed
(contract, "Webhook delivery": "answer 2xx only after the delivery is stored
durably"). Database work runs in a thread so the event loop keeps serving.
"""

from __future__ import annotations

import asyncio

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from app.config import WEBHOOK_PATH
from app.runtime import get_runtime
from app.services.ingest import ingest_delivery


def build_router() -> APIRouter:
    """The webhook route; ``app.main`` includes it."""
    router = APIRouter(tags=["webhooks"])

    @router.post(WEBHOOK_PATH, summary="Receive a signed run status from the platform")
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

    return router
