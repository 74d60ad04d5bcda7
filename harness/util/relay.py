"""An in-process TCP relay: one more listening port on 127.0.0.1 for a server that listens on another.

A real MLNode is one service reachable on two ports (management API and vLLM); the embedded backend models a
split-port MLNode as one WireMock (one state machine) plus a relay for the second port. Clients address the
relay's port, so the server's journal (WireMock's absoluteUrl, built from the Host header) shows which port
each request used.

    with TcpRelay(target_port=wiremock.port) as relay:
        relay.port        # the extra port
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import Self

from harness.util.loop import BackgroundLoop
from harness.util.ports import LOOPBACK
from harness.util.service import StartStop

CHUNK = 65536


async def pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    """Copy bytes until EOF or a connection error, then close the writer (used by every relay of the harness)."""
    try:
        while data := await reader.read(CHUNK):
            writer.write(data)
            await writer.drain()
    except (ConnectionError, OSError):
        pass
    finally:
        with contextlib.suppress(Exception):
            writer.close()


class TcpRelay(StartStop):
    def __init__(self, target_port: int, *, listen_port: int = 0, name: str = "relay") -> None:
        self.target_port = target_port
        self.listen_port = listen_port
        self.name = name
        self._loop: BackgroundLoop | None = None
        self._server: asyncio.base_events.Server | None = None
        self._conns: set[asyncio.StreamWriter] = set()

    @property
    def port(self) -> int:
        assert self._server is not None, f"{self.name}: not started"
        return self._server.sockets[0].getsockname()[1]

    def start(self) -> Self:
        self._loop = BackgroundLoop(self.name)
        self._server = self._loop.run(asyncio.start_server(self._handle, LOOPBACK, self.listen_port))
        return self

    def stop(self) -> None:
        if self._loop is None:
            return
        self._loop.run(self._close(), timeout_s=10)
        self._loop.close()
        self._loop, self._server = None, None

    async def _close(self) -> None:
        if self._server is not None:
            self._server.close()
        for w in list(self._conns):
            w.close()
        if self._server is not None:
            await self._server.wait_closed()

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            up_reader, up_writer = await asyncio.open_connection(LOOPBACK, self.target_port)
        except OSError:
            writer.close()
            return
        self._conns.update((writer, up_writer))
        try:
            await asyncio.gather(pipe(reader, up_writer), pipe(up_reader, writer))
        finally:
            self._conns.difference_update((writer, up_writer))
