"""Rate-limiting refused webhook requests per source address, in memory.

Every refused request is stored with its verdict (README, "Webhook") until a source address has been refused
``rate`` times in a burst: each address has a token bucket of ``rate`` tokens, refilled at ``rate`` per minute,
and a refusal that finds it empty is answered 429 with ``Retry-After`` (RFC 9110 section 10.2.3) and **not
stored**: no row, no body, no headers. What is kept of it is one counter per address and minute
(``dropped()``), in memory only, for the last ``KEEP_MINUTES`` minutes, so a flood cannot grow the database.
Verified deliveries never use a token and are never limited: the platform's own requests go through even when
the same address also sent garbage. Buckets and counters are lost at a restart.
"""

from __future__ import annotations

import math
import threading
import time
from dataclasses import dataclass

KEEP_MINUTES = 60
"""Minutes of dropped-request counters kept."""
MAX_ADDRESSES = 10_000
"""Buckets kept at most; beyond it, full ones (idle addresses) are forgotten."""


@dataclass
class _Bucket:
    tokens: float
    at: float


class RefusalLimiter:
    """Token buckets per source address for refused requests; safe to call from several threads."""

    def __init__(self, *, rate: int) -> None:
        self.rate = rate
        self._buckets: dict[str, _Bucket] = {}
        self._dropped: dict[tuple[str, int], int] = {}
        self._lock = threading.Lock()

    def take(self, address: str, *, now: float | None = None) -> int | None:
        """Use one token of ``address``'s bucket. Returns ``None`` when there was one (store the refusal), else
        the whole seconds until the next token (answer 429 with that ``Retry-After``; the request is counted)."""
        moment = time.time() if now is None else now
        with self._lock:
            bucket = self._buckets.get(address)
            if bucket is None:
                self._forget_idle(moment)
                bucket = self._buckets[address] = _Bucket(tokens=float(self.rate), at=moment)
            bucket.tokens = min(float(self.rate), bucket.tokens + (moment - bucket.at) * self.rate / 60)
            bucket.at = moment
            if bucket.tokens >= 1:
                bucket.tokens -= 1
                return None
            minute = int(moment // 60)
            self._dropped[(address, minute)] = self._dropped.get((address, minute), 0) + 1
            for key in [key for key in self._dropped if key[1] <= minute - KEEP_MINUTES]:
                del self._dropped[key]
            return max(1, math.ceil((1 - bucket.tokens) * 60 / self.rate))

    def dropped(self) -> dict[tuple[str, int], int]:
        """Requests answered 429 and not stored, by ``(address, minute)`` (minute: Unix seconds // 60)."""
        with self._lock:
            return dict(self._dropped)

    def _forget_idle(self, now: float) -> None:
        if len(self._buckets) < MAX_ADDRESSES:
            return
        for address, bucket in list(self._buckets.items()):
            if bucket.tokens + (now - bucket.at) * self.rate / 60 >= self.rate:
                del self._buckets[address]
