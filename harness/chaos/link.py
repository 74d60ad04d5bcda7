"""One client connection through the proxy: read requests, let the schedule judge them, forward or fault.

Stream rules: every byte read from one side is written to the other unless a fault ends the connection;
an EOF on either side closes both; every wait is interruptible (proxy stop cancels the task).
One upstream connection per client connection, opened on the first forwarded request and reopened when the
upstream closed it between requests.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import socket
import struct
from typing import TYPE_CHECKING

from harness.chaos import http
from harness.chaos.faults import Outcome, Stage
from harness.chaos.history import ProxiedRequest
from harness.chaos.schedule import InstalledFault, now_ms
from harness.chaos.targets import FaultEvent
from harness.chaos.ws import FrameSniffer, status_height

if TYPE_CHECKING:
    from harness.chaos.proxy import ChaosProxy

_COPY_BYTES = 64 * 1024


def rst(writer: asyncio.StreamWriter) -> None:
    """Close with RST: SO_LINGER on, timeout 0, then abort."""
    sock = writer.get_extra_info("socket")
    if sock is not None:
        with contextlib.suppress(OSError):
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    writer.transport.abort()


class FaultLink:
    """The Link a fault acts on (see faults.Link)."""

    def __init__(self, conn: Connection, inst: InstalledFault) -> None:
        self.conn = conn
        self.inst = inst
        self.rng: random.Random = inst.rng

    def close(self) -> None:
        self.conn.close_client()

    def reset(self) -> None:
        self.conn.closed = True
        rst(self.conn.writer)

    async def sleep_ms(self, ms: float) -> None:
        await asyncio.sleep(ms / 1000.0)

    async def hold(self, hold_ms: float | None) -> bool:
        proxy = self.conn.proxy
        deadline = now_ms() + hold_ms if hold_ms is not None else float("inf")
        gone = asyncio.ensure_future(_until_eof(self.conn.reader))
        try:
            while True:
                end = min(deadline, self.inst.spec.window.end_unix(self.inst.added_ms))
                if now_ms() >= end or self.inst.id not in proxy.table.faults or self._height_ended():
                    return False
                timeout = None if end == float("inf") else max(0.0, (end - now_ms()) / 1000.0)
                changed = proxy.changed
                done, _ = await asyncio.wait({gone, changed}, timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
                if gone in done:
                    return True
        finally:
            gone.cancel()

    def _height_ended(self) -> bool:
        """A held request is released when the fault's time or height window ends (not when its count is used up)."""
        w = self.inst.spec.window
        h = self.conn.proxy.table.height
        return w.end_height is not None and h is not None and h > w.end_height


async def _until_eof(reader: asyncio.StreamReader) -> None:
    with contextlib.suppress(ConnectionError, OSError):
        while await reader.read(_COPY_BYTES):
            pass


class Connection:
    def __init__(self, proxy: ChaosProxy, conn_id: int, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.proxy = proxy
        self.id = conn_id
        self.reader = reader
        self.writer = writer
        self.up_reader: asyncio.StreamReader | None = None
        self.up_writer: asyncio.StreamWriter | None = None
        self.closed = False
        self.drop: asyncio.Future[InstalledFault] | None = None  # set while a websocket session is open
        self.ws_bytes = {"in": 0, "out": 0}

    # -- closing -------------------------------------------------------------------------------------
    def close_client(self) -> None:
        self.closed = True
        self.writer.close()

    def close_all(self) -> None:
        if not self.closed:
            self.close_client()
        if self.up_writer is not None:
            self.up_writer.close()

    # -- main loop -----------------------------------------------------------------------------------
    async def run(self) -> None:
        if await self._judge_connection(Stage.CONNECT, FaultEvent("connection", self.id)):
            return
        while not self.closed:
            head = await self._await_head()
            if head is None:
                return
            if not await self._serve_one(head):
                return

    async def _judge_connection(self, stage: Stage, event: FaultEvent) -> bool:
        """Apply a connection-level fault if one is chosen; True if the connection is finished."""
        chosen = self.proxy.decide(stage, event)
        if not chosen:
            return False
        start = now_ms()
        outcome = await chosen[0].fault.apply(FaultLink(self, chosen[0]))
        self.proxy.record(
            kind="connection", conn_id=self.id, start_ms=start, end_ms=now_ms(), fault=chosen[0].fault.name,
            fault_ids=(chosen[0].id,), outcome=str(outcome),
        )  # fmt: skip
        return True

    async def _await_head(self) -> bytes | None:
        """Wait for the next request head; close the connection if a close_idle fault says so."""
        table = self.proxy.table
        table.idle_reset(self.id)
        idle_since = now_ms()
        read = asyncio.ensure_future(http.read_head(self.reader))
        try:
            while True:
                threshold = table.idle_threshold_ms(self.id)
                timeout = None if threshold is None else max(0.0, (idle_since + threshold - now_ms()) / 1000.0)
                changed = self.proxy.changed
                done, _ = await asyncio.wait({read, changed}, timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
                if read in done:
                    return await self._head_result(read)
                if changed in done or threshold is None:
                    continue
                event = FaultEvent("connection", self.id, idle_ms=now_ms() - idle_since)
                if await self._judge_connection(Stage.IDLE, event):
                    return None
        finally:
            if not read.done():
                read.cancel()

    async def _head_result(self, read: asyncio.Future[bytes | None]) -> bytes | None:
        start = now_ms()
        try:
            return read.result()
        except http.HttpParseError as e:
            await self._reject(e, start)
        except (ConnectionError, OSError):
            self.close_client()
        return None

    async def _reject(self, e: http.HttpParseError, start: float) -> None:
        with contextlib.suppress(ConnectionError, OSError):
            self.writer.write(http.simple_response(e.status, http.REASONS.get(e.status, "Error"), e.reason))
            await asyncio.wait_for(self.writer.drain(), 2.0)
        self.proxy.record(kind="connection", conn_id=self.id, start_ms=start, end_ms=now_ms(),
                          outcome=str(Outcome.BAD_REQUEST), status=e.status, error=e.reason)  # fmt: skip
        self.close_client()

    # -- one request ---------------------------------------------------------------------------------
    async def _serve_one(self, head: bytes) -> bool:
        """Handle one request; True if the connection stays open for the next one."""
        start = now_ms()
        try:
            req = await http.read_request_body(self.reader, http.parse_request_head(head))
        except http.HttpParseError as e:
            await self._reject(e, start)
            return False
        except (ConnectionError, OSError):
            self.close_client()
            return False
        if req.expect_continue:
            self.writer.write(b"HTTP/1.1 100 Continue\r\n\r\n")
        kind = "websocket" if req.websocket else "http"
        rec = self.proxy.record(kind=kind, conn_id=self.id, start_ms=start, end_ms=None, methods=req.rpc_methods,
                                path=req.path, bytes_in=len(req.raw))  # fmt: skip
        chosen = self.proxy.decide(Stage.REQUEST, FaultEvent(kind, self.id, req.rpc_methods))
        if chosen:
            rec.fault = "+".join(f.fault.name for f in chosen)
            rec.fault_ids = tuple(f.id for f in chosen)
        for inst in chosen:
            outcome = await inst.fault.apply(FaultLink(self, inst))
            if outcome is not None:
                rec.outcome, rec.end_ms = str(outcome), now_ms()
                return False
        try:
            keep = await self._forward(req, rec)
        except (http.HttpParseError, asyncio.IncompleteReadError, asyncio.LimitOverrunError, ConnectionError, OSError) as e:
            rec.outcome, rec.error = str(Outcome.UPSTREAM_ERROR), f"{type(e).__name__}: {e}"
            keep = False
            if self.up_reader is None:  # could not connect upstream: the client sees a reset, as without the proxy
                rst(self.writer)
                self.closed = True
            self.close_all()
        if rec.end_ms is None:
            rec.end_ms = now_ms()
        return keep

    async def _upstream(self) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        if self.up_reader is None or self.up_writer is None or self.up_reader.at_eof() or self.up_writer.is_closing():
            if self.up_writer is not None:
                self.up_writer.close()
            self.up_reader = self.up_writer = None
            r, w = await asyncio.open_connection(self.proxy.upstream_host, self.proxy.upstream_port, limit=http.MAX_HEADER_BYTES)
            self.up_reader, self.up_writer = r, w
        return self.up_reader, self.up_writer

    async def _forward(self, req: http.HttpRequest, rec: ProxiedRequest) -> bool:
        up_r, up_w = await self._upstream()
        up_w.write(req.raw)
        await up_w.drain()
        while True:
            head = await http.read_head(up_r, "upstream response head")
            if head is None:
                raise ConnectionError("upstream closed the connection without answering")
            resp = http.parse_response_head(head)
            if resp.status == 100 or (100 < resp.status < 200 and resp.status != 101):
                self.writer.write(head)
                continue
            break
        rec.status = resp.status
        kind, length = http.response_framing(resp, req.method)
        out = len(head)
        if kind == "length" and length <= 1024 * 1024:
            body = await up_r.readexactly(length)
            self.writer.write(head + body)
            out += length
            if "status" in req.rpc_methods:
                h = status_height(body)
                if h is not None:
                    self.proxy.observe_height(h)
        else:
            self.writer.write(head)
            if kind == "length":
                out += await self._copy_exact(up_r, length)
            elif kind == "chunked":
                out += await http.copy_chunked(up_r, self.writer)
            elif kind == "close":
                out += await self._copy_until_eof(up_r, self.writer)
        try:
            await self.writer.drain()
        except (ConnectionError, OSError) as e:
            rec.bytes_out, rec.outcome, rec.error, rec.end_ms = out, str(Outcome.CLIENT_GONE), str(e), now_ms()
            return False
        rec.bytes_out, rec.outcome, rec.end_ms = out, str(Outcome.OK), now_ms()
        if resp.status == 101 and req.websocket:
            await self._websocket()
            return False
        if kind == "close" or not resp.keep_alive:
            self.close_all()
            return False
        return req.keep_alive

    async def _copy_exact(self, reader: asyncio.StreamReader, n: int) -> int:
        left = n
        while left:
            data = await reader.readexactly(min(left, _COPY_BYTES))
            self.writer.write(data)
            await self.writer.drain()
            left -= len(data)
        return n

    async def _copy_until_eof(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, sniffer: FrameSniffer | None = None, side: str = ""
    ) -> int:
        total = 0
        with contextlib.suppress(ConnectionError, OSError):
            while data := await reader.read(_COPY_BYTES):
                total += len(data)
                if side:
                    self.ws_bytes[side] += len(data)
                if sniffer is not None:
                    for h in sniffer.feed(data):
                        self.proxy.observe_height(h)
                writer.write(data)
                await writer.drain()
        return total

    # -- websocket -----------------------------------------------------------------------------------
    async def _websocket(self) -> None:
        assert self.up_reader is not None
        assert self.up_writer is not None
        start = now_ms()
        rec = self.proxy.record(kind="websocket", conn_id=self.id, start_ms=start, end_ms=None, path="/websocket")
        self.drop = asyncio.get_running_loop().create_future()
        self.proxy.websockets[self.id] = self
        up = asyncio.ensure_future(self._copy_until_eof(self.reader, self.up_writer, side="in"))
        down = asyncio.ensure_future(self._copy_until_eof(self.up_reader, self.writer, FrameSniffer(), side="out"))
        try:
            self.proxy.check_websocket(self)
            done, _ = await asyncio.wait({up, down, self.drop}, return_when=asyncio.FIRST_COMPLETED)
            if self.drop in done:
                inst = self.drop.result()
                outcome = await inst.fault.apply(FaultLink(self, inst))
                rec.fault, rec.fault_ids, rec.outcome = inst.fault.name, (inst.id,), str(outcome)
            else:
                rec.outcome = str(Outcome.WS_CLOSED)
        finally:
            self.proxy.websockets.pop(self.id, None)
            for t in (up, down):
                t.cancel()
            self.close_all()
            rec.bytes_in, rec.bytes_out = self.ws_bytes["in"], self.ws_bytes["out"]
            rec.end_ms = now_ms()
