"""Reading a webhook body as it streams, never past the size limit.

A request whose ``Content-Length`` is above the limit is not read at all; one without it (chunked) is read chunk
by chunk and dropped as soon as the bytes read pass the limit, so at most the limit plus one chunk is ever held
in memory, whatever the sender sends. The rest of the body is never read (the server closes the connection).
A body must arrive whole within ``READ_SECONDS`` (the platform's own timeout), so connections trickling a byte
now and then cannot be held open for ever: past it the answer is 408 ``body_timeout`` and nothing is stored.
"""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass

from app.errors import BodyTimeout

READ_SECONDS = 10.0
"""How long a webhook body may take to arrive: the platform gives up on an answer after 10 s anyway."""
PREFIX_BYTES = 4096
"""How much of a refused body is stored: its first 4 KB (with its length and SHA-256)."""


@dataclass(frozen=True)
class ReadBody:
    """What was read of a request's body.

    ``data``: the bytes read (all of them when ``complete``); ``length``: how many (``len(data)``);
    ``sha256``: hex SHA-256 of ``data``; ``complete``: read to its end (false: the sender sent more than the
    limit, or declared more in ``Content-Length``, and the rest was not read); ``declared``: the
    ``Content-Length`` header as a number, when it was one.
    """

    data: bytes
    length: int
    sha256: str
    complete: bool
    declared: int | None = None

    @classmethod
    def whole(cls, data: bytes) -> ReadBody:
        """A body held whole in memory (a replay's, or a test's)."""
        return cls(data=data, length=len(data), sha256=hashlib.sha256(data).hexdigest(), complete=True)


async def read_body(*, chunks: AsyncIterator[bytes], headers: Mapping[str, str], limit: int) -> ReadBody:
    """Read ``chunks`` (``request.stream()``) up to ``limit`` bytes.

    Returns at once, reading nothing, when ``Content-Length`` (``headers`` in lower case, as Starlette gives
    them) is above ``limit``; stops reading at the first chunk that takes the total above ``limit``. Raises
    ``BodyTimeout`` when the body takes longer than ``READ_SECONDS``, nothing for a bad ``Content-Length`` (the
    server has already framed the body; it is then only ignored).
    """
    declared = _declared_length(headers.get("content-length"))
    if declared is not None and declared > limit:
        return ReadBody(data=b"", length=0, sha256=hashlib.sha256(b"").hexdigest(), complete=False, declared=declared)
    digest = hashlib.sha256()
    data = bytearray()
    try:
        async with asyncio.timeout(READ_SECONDS):
            async for chunk in chunks:
                if not chunk:
                    continue
                digest.update(chunk)
                data += chunk
                if len(data) > limit:
                    return ReadBody(
                        data=bytes(data), length=len(data), sha256=digest.hexdigest(), complete=False, declared=declared
                    )
    except TimeoutError:
        raise BodyTimeout(
            f"the body did not arrive within {READ_SECONDS:g} s ({len(data):,} bytes came): send it at once"
        ) from None
    return ReadBody(data=bytes(data), length=len(data), sha256=digest.hexdigest(), complete=True, declared=declared)


def _declared_length(value: str | None) -> int | None:
    if value is None or not value.strip().isdigit() or len(value.strip()) > 18:
        return None
    return int(value.strip())


def body_note(*, stored: int, length: int | None, truncated: bool, sha256: str | None) -> str:
    """One line saying how much of a body is kept, e.g. ``"first 4 KB of 30 MB, sha256 9f86d081884c…"``, or
    ``""`` when the stored bytes are the whole body (or the row predates lengths: ``length`` is ``None``)."""
    digest = f", sha256 {sha256[:12]}…" if sha256 else ""
    if truncated:
        if not length:
            return "body not read: its Content-Length was above the limit"
        return f"first {size_text(stored)} of more than {size_text(length)} (not read to the end){digest}"
    if length is None or stored >= length:
        return ""
    return f"first {size_text(stored)} of {size_text(length)}{digest}"


def size_text(count: int) -> str:
    """Bytes for a person: ``512 B``, ``4 KB``, ``1.5 MB``, ``30 MB`` (powers of 1024)."""
    if count < 1024:
        return f"{count} B"
    value = float(count)
    for unit in ("KB", "MB"):
        value /= 1024
        if value < 1024:
            return _one_place(value, unit)
    return _one_place(value / 1024, "GB")


def _one_place(value: float, unit: str) -> str:
    return f"{value:.0f} {unit}" if value >= 10 or value.is_integer() else f"{value:.1f} {unit}"
