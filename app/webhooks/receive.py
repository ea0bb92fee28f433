"""Taking one webhook request: read its body (never past the limit), queue it for the writer, word the answer.

Shared by the fast path (``app.webhooks.fast_path``, which serves every ``POST /webhooks/sudoiq``) and the
FastAPI route (``app.webhooks.route``, which documents it in ``/docs`` and serves it should the fast path be
absent). The answer is made only after the delivery's batch has committed (``app.webhooks.writer``).
"""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

from app.errors import BodyTimeout, Overloaded, RateLimited, TooldeskError
from app.services.ingest import Received
from app.states import Verdict
from app.webhooks.body import read_body

if TYPE_CHECKING:
    from app.runtime import Runtime


@dataclass(frozen=True)
class Answer:
    """An HTTP answer: ``status``, JSON ``body`` bytes and extra ``headers`` (``Retry-After``), as ASGI pairs."""

    status: int
    body: bytes
    headers: tuple[tuple[bytes, bytes], ...] = ()


async def take_delivery(
    *, runtime: Runtime, headers: Mapping[str, str], chunks: AsyncIterator[bytes], source: str
) -> Answer:
    """Read, store and answer one webhook request (``headers`` with lower-case names, ``chunks`` the body as it
    streams, ``source`` the client's address).

    200 ``{"ok": true, "verdict": ...}`` once stored (applied, history or duplicate); a refusal's 4xx in the
    contract's error shape once stored; 408 ``body_timeout`` (not stored); 429 ``rate_limited`` and 503
    ``overloaded`` with ``Retry-After`` (not stored); 500 ``internal`` when storing failed (not stored, logged).
    Raises ``starlette.requests.ClientDisconnect`` when the client leaves before its body arrived.
    """
    received_at = time.time()
    try:
        runtime.ingest.check_room()  # a full queue answers at once, without reading the body
        body = await read_body(chunks=chunks, headers=headers, limit=runtime.settings.max_body_bytes)
        request = Received(body=body, headers=headers, received_at=received_at, source=source)
        outcome = await runtime.ingest.store(request)
    except (RateLimited, Overloaded) as exc:
        return Answer(exc.status, _json(exc.body()), ((b"retry-after", str(exc.retry_after).encode()),))
    except (BodyTimeout, TooldeskError) as exc:
        return Answer(exc.status, _json(exc.body()))
    if outcome.status_code == 200 and outcome.verdict in _OK:
        return Answer(200, _OK[outcome.verdict])
    return Answer(outcome.status_code, _json(outcome.body))


def _json(value: object) -> bytes:
    """As Starlette's ``JSONResponse`` renders it."""
    return json.dumps(value, ensure_ascii=False, allow_nan=False, indent=None, separators=(",", ":")).encode()


_OK = {
    verdict: _json({"ok": True, "verdict": verdict})
    for verdict in (Verdict.APPLIED, Verdict.HISTORY, Verdict.DUPLICATE)
}
