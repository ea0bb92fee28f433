"""The webhook's limits: a body over the limit is refused 413 while it streams, refusals keep only a 4 KB prefix
with its length and SHA-256, and a flood of refusals from one address is answered 429 without being stored.

Promise (README, "How it behaves"): every limit is answered with its own status, the body is never read past
the limit, and a flood cannot grow the database.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import time
import tracemalloc
from collections.abc import AsyncIterator

import pytest

from app.config import get_settings
from app.webhooks import body as webhook_body
from tests.builders import Console, encode, make_status, sign

CHUNK = 64 * 1024
LIMIT = 1_000_000


class Streamed:
    """A request body sent in chunks, counting how many bytes the console pulled."""

    def __init__(self, size: int, *, fill: bytes = b" ") -> None:
        self.size = size
        self.fill = fill
        self.pulled = 0

    async def chunks(self) -> AsyncIterator[bytes]:
        chunk = self.fill * CHUNK
        while self.pulled < self.size:
            part = chunk[: self.size - self.pulled]
            self.pulled += len(part)
            yield part
            await asyncio.sleep(0)  # let other requests run, as a slow network would


async def _listed(console: Console, **params: str | int) -> list[dict]:
    response = await console.get("/api/deliveries", params=params)
    assert response.status_code == 200, response.text
    return list(response.json()["deliveries"])


async def test_webhook_streamed_body_over_limit_refused_413_without_reading_the_rest(console: Console):
    body = Streamed(5_000_000)
    response = await console.post("/webhooks/sudoiq", content=body.chunks(), headers=sign(b"", msg_id="m_big"))
    assert response.status_code == 413, response.text
    assert response.json()["error"]["code"] == "body_too_large"
    assert "limit 1,000,000" in response.json()["error"]["message"]
    assert body.pulled <= LIMIT + CHUNK
    [stored] = await _listed(console)
    assert (stored["verdict"], stored["answered_status"], stored["body_truncated"]) == ("too_large", 413, True)
    assert stored["body_stored"] == 4096 and stored["body_length"] > LIMIT
    assert stored["body_note"].startswith("first 4 KB of more than 1 MB (not read to the end), sha256 ")


async def test_webhook_content_length_over_limit_refused_413_before_reading(console: Console):
    body = Streamed(30_000_000)
    headers = sign(b"", msg_id="m_declared") | {"content-length": "30000000"}
    response = await console.post("/webhooks/sudoiq", content=body.chunks(), headers=headers)
    assert response.status_code == 413, response.text
    assert "Content-Length 30,000,000" in response.json()["error"]["message"]
    assert body.pulled == 0
    [stored] = await _listed(console)
    assert (stored["verdict"], stored["body_stored"], stored["body_truncated"]) == ("too_large", 0, True)
    assert stored["headers"]["content-length"] == "30000000"


async def test_webhook_refused_body_stored_as_4kb_prefix_with_length_and_sha256(console: Console):
    body = encode(make_status(7401, status="completed", sequence=9, result="x" * 40_000))
    response = await console.post_webhook(body, sign(body, msg_id="m_forged") | {"webhook-signature": "v1,AAAA"})
    assert response.status_code == 401
    [listed] = await _listed(console)
    stored = (await console.get(f"/api/deliveries/{listed['id']}")).json()
    assert base64.b64decode(stored["body_base64"]) == body[:4096]
    assert (stored["body_length"], stored["body_sha256"]) == (len(body), hashlib.sha256(body).hexdigest())
    assert stored["body_truncated"] is False
    assert stored["body_note"] == f"first 4 KB of 39 KB, sha256 {hashlib.sha256(body).hexdigest()[:12]}…"
    assert len(listed["body_preview"]) == 200 and "body" not in listed


async def test_webhook_verified_body_stored_whole(console: Console):
    body = encode(make_status(7402, result=None, note="y" * 10_000))
    await console.deliver(make_status(7402, note="y" * 10_000), "m_whole")
    [listed] = await _listed(console)
    stored = (await console.get(f"/api/deliveries/{listed['id']}")).json()
    assert base64.b64decode(stored["body_base64"]) == body
    assert (stored["body_length"], stored["body_note"]) == (len(body), "")


@pytest.fixture
def three_refusals_a_minute(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TOOLDESK_REFUSED_RATE", "3")
    get_settings.cache_clear()


async def test_webhook_refusals_past_rate_answered_429_and_not_stored(three_refusals_a_minute: None, console: Console):
    body = encode(make_status(7403))
    forged = sign(body, msg_id="m_flood") | {"webhook-signature": "v1,AAAA"}
    answers = [(await console.post_webhook(body, forged)).status_code for _ in range(10)]
    assert answers == [401] * 3 + [429] * 7
    limited = await console.post_webhook(body, forged)
    assert limited.json()["error"]["code"] == "rate_limited"
    assert 1 <= int(limited.headers["retry-after"]) <= 20
    assert len(await _listed(console)) == 3
    await console.deliver(make_status(7403), "m_valid_from_same_address")  # verified requests are never limited
    assert len(await _listed(console)) == 4


async def test_webhook_50_mb_body_refused_without_buffering_and_valid_delivery_answered_promptly(console: Console):
    await console.deliver(make_status(7404, status="running", sequence=1, round=None), "m_warm")
    huge = Streamed(50 * 1024 * 1024)
    valid = encode(make_status(7404, sequence=2))

    async def deliver_valid() -> float:
        await asyncio.sleep(0.05)  # while the huge body is streaming
        started = time.perf_counter()
        response = await console.post_webhook(valid, sign(valid, msg_id="m_meanwhile"))
        assert response.status_code == 200, response.text
        return time.perf_counter() - started

    tracemalloc.start()
    try:
        tracemalloc.reset_peak()
        big, waited = await asyncio.gather(
            console.post("/webhooks/sudoiq", content=huge.chunks(), headers=sign(b"", msg_id="m_50mb")),
            deliver_valid(),
        )
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert big.status_code == 413, big.text
    assert huge.pulled <= LIMIT + CHUNK
    assert peak < 10 * 1024 * 1024, f"peak {peak / 1e6:.1f} MB while refusing a 50 MB body"
    assert waited < 2.0, f"a valid delivery waited {waited:.2f} s"
    assert (await console.run(7404))["sequence"] == 2


async def test_webhook_body_sent_slowly_answered_408_at_deadline(console: Console, monkeypatch: pytest.MonkeyPatch):
    """Many connections each trickling a byte now and then would otherwise be held open for ever."""
    monkeypatch.setattr(webhook_body, "READ_SECONDS", 0.5)
    pulled = 0

    async def trickle() -> AsyncIterator[bytes]:
        nonlocal pulled
        for _ in range(100):
            pulled += 1
            yield b" "
            await asyncio.sleep(0.1)

    started = time.perf_counter()
    response = await console.post("/webhooks/sudoiq", content=trickle(), headers=sign(b"", msg_id="m_slow"))
    waited = time.perf_counter() - started

    assert response.status_code == 408, response.text
    error = response.json()["error"]
    assert error["code"] == "body_timeout"
    assert "0.5 s" in error["message"]
    assert waited < 2.0 and pulled < 20
    await console.deliver(make_status(7405), "m_after_slow")
    assert (await console.run(7405))["status"] == "awaiting_tool_calls"
