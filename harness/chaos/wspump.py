"""One websocket session through the proxy, once the chain accepted the upgrade: the API node's bytes go to the chain
as they come; the chain's go to the API node message by message (harness/chaos/ws.py), each NewBlock's delivery
timed, and a message the delivery gate holds waits with every data message behind it (harness/chaos/holds.py).
Pings and pongs are never held, so the websocket stays alive through a hold."""

from __future__ import annotations

import asyncio
import contextlib
from collections import deque
from typing import TYPE_CHECKING

from harness.chaos.schedule import now_ms
from harness.chaos.ws import FrameSplitter, Piece

if TYPE_CHECKING:
    from harness.chaos.link import Connection

_COPY_BYTES = 64 * 1024


class WebsocketSession:
    def __init__(self, conn: Connection) -> None:
        self.conn = conn
        self.bytes = {"in": 0, "out": 0}  # to the chain, to the API node
        self.queue: deque[Piece] = deque()  # the chain's messages held back from the API node
        self.started_ms = now_ms()  # when the session began (the API node subscribes on it right after)

    @property
    def held(self) -> int:
        """Data messages still held (never delivered if the session ends now)."""
        return sum(p.kind == "message" for p in self.queue)

    async def to_chain(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, first: bytes) -> None:
        """The API node's bytes to the chain, as they come (`first`: what came with the upgrade request)."""
        with contextlib.suppress(ConnectionError, OSError):
            data = first
            while True:
                if data:
                    self.bytes["in"] += len(data)
                    writer.write(data)
                    await writer.drain()
                data = await reader.read(_COPY_BYTES)
                if not data:
                    return

    async def to_node(self, reader: asyncio.StreamReader, first: bytes) -> None:
        """The chain's bytes to the API node, piece by piece (`first`: what came with the 101)."""
        splitter, gate, writer = FrameSplitter(), self.conn.proxy.gate, self.conn.writer
        read: asyncio.Future[bytes] | None = None
        try:
            data = first
            while True:
                for piece in splitter.feed(data):
                    if piece.kind == "control":
                        self._send(piece)  # pings and pongs are never held: the websocket stays alive
                    else:
                        self.queue.append(piece)
                wait_s = self._flush()
                await writer.drain()
                read = read or asyncio.ensure_future(reader.read(_COPY_BYTES))
                await asyncio.wait({read, gate.changed}, timeout=wait_s, return_when=asyncio.FIRST_COMPLETED)
                data = b""
                if read.done():
                    data, read = read.result(), None
                    if not data:
                        break
        except (ConnectionError, OSError):
            pass
        finally:
            if read is not None:
                read.cancel()

    def _flush(self) -> float | None:
        """Send what the gate lets go; the seconds until the head of the queue may go (None: until a release)."""
        gate = self.conn.proxy.gate
        while self.queue:
            wait = gate.wait_ms(self.queue[0].height, now_ms())
            if wait is None or wait > 0:
                return None if wait is None else wait / 1000.0
            self._send(self.queue.popleft())
        return None

    def _send(self, piece: Piece) -> None:
        sent_ms = now_ms()  # read before the write: the API node may have the event the moment it is written
        self.bytes["out"] += len(piece.data)
        self.conn.writer.write(piece.data)
        if piece.height is not None:
            proxy = self.conn.proxy
            proxy.gate.delivered(piece.height, self.conn.id, sent_ms, self.started_ms)
            proxy.observe_height(piece.height)
