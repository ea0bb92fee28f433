"""The standalone simulator's front door: a TCP pipe that can refuse connections for a while.

``uvicorn`` serves the simulator on a private loopback port; ``Gate`` listens on the public address and
pipes every connection through to it, byte for byte. ``await gate.down(seconds)`` closes the listening
socket and cuts every open connection, so clients see what a platform that is down gives them
(``ECONNREFUSED`` on connect, a reset on a kept-alive connection), then listens again. This is the
``down_for`` fault (``app.simulator.faults``).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

log = logging.getLogger(__name__)

CUT_AFTER = 0.2
"""Seconds ``down`` waits before cutting, so the answer that asked for it reaches its client."""


class Gate:
    """Listens on ``host``:``port`` and pipes each connection to ``upstream`` (host, port)."""

    def __init__(self, host: str, port: int, upstream: tuple[str, int]) -> None:
        self.host, self.port, self.upstream = host, port, upstream
        self._server: asyncio.Server | None = None
        self._open: set[asyncio.StreamWriter] = set()
        self._reopening: asyncio.Task[None] | None = None

    async def open(self) -> None:
        """Listen; raises ``OSError`` when the address is taken."""
        self._server = await asyncio.start_server(self._pipe, self.host, self.port, reuse_address=True)

    async def down(self, seconds: float) -> None:
        """Refuse connections for ``seconds`` from now (a second call extends or shortens the outage)."""
        await asyncio.sleep(CUT_AFTER)
        if self._server is not None:
            self._server.close()
            self._server = None
        for writer in list(self._open):
            writer.transport.abort()
        log.warning("simulator down for %.1f s: refusing connections", seconds)
        if self._reopening is not None:
            self._reopening.cancel()
        self._reopening = asyncio.get_running_loop().create_task(self._reopen(seconds))

    async def _reopen(self, seconds: float) -> None:
        await asyncio.sleep(seconds)
        await self.open()
        log.warning("simulator up again: accepting connections")

    async def close(self) -> None:
        """Stop listening and cut every connection."""
        if self._reopening is not None:
            self._reopening.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._reopening
        if self._server is not None:
            self._server.close()
        for writer in list(self._open):
            writer.transport.abort()

    async def _pipe(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            upstream_reader, upstream_writer = await asyncio.open_connection(*self.upstream)
        except OSError:
            writer.transport.abort()
            return
        self._open |= {writer, upstream_writer}
        try:
            await asyncio.gather(_copy(reader, upstream_writer), _copy(upstream_reader, writer))
        finally:
            for end in (writer, upstream_writer):
                self._open.discard(end)
                end.close()


async def _copy(source: asyncio.StreamReader, target: asyncio.StreamWriter) -> None:
    """Copy until the source ends (then pass the end on) or either side fails."""
    try:
        while data := await source.read(65536):
            target.write(data)
            await target.drain()
        if target.can_write_eof():
            target.write_eof()
    except (ConnectionError, OSError):
        target.transport.abort()
