"""One client connection through the proxy: read requests, let the schedule judge them, forward or fault.

Both sides speak HTTP/1.1 through h11 (harness/chaos/http.py says what is refused); a websocket session, once
upgraded, is a WebsocketSession (harness/chaos/wspump.py): bytes to the chain as they come, the chain's messages to
the API node through the delivery gate.
Stream rules: every request is forwarded as parsed unless a fault ends the connection; an EOF on either side
closes both; every wait is interruptible (proxy stop cancels the task). One upstream connection per client
connection, opened on the first forwarded request and reopened when the upstream closed it between requests.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import socket
import struct
from typing import TYPE_CHECKING

import h11

from harness.chaos import http
from harness.chaos.faults import Outcome, Stage
from harness.chaos.history import ProxiedRequest
from harness.chaos.schedule import InstalledFault, now_ms
from harness.chaos.targets import FaultEvent
from harness.chaos.ws import status_height
from harness.chaos.wspump import WebsocketSession

if TYPE_CHECKING:
    from harness.chaos.proxy import ChaosProxy

_COPY_BYTES = 64 * 1024
_STATUS_BODY_MAX = 1024 * 1024  # a `status` answer is read for the block height up to this size
_MAX_PATH_CHARS = 256  # of a request's path kept in the history


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
        """Wait ms, or less if the fault is removed (chaos clear/remove releases a delayed request at once)."""
        proxy = self.conn.proxy
        deadline = now_ms() + ms
        while self.inst.id in proxy.table.faults:
            left = deadline - now_ms()
            if left <= 0:
                return
            await asyncio.wait({proxy.changed}, timeout=left / 1000.0)

    async def hold(self, hold_ms: float | None) -> bool:
        proxy = self.conn.proxy
        deadline = now_ms() + hold_ms if hold_ms is not None else float("inf")  # the window's end bounds it anyway
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


class Upstream:
    """The proxy's connection to the chain RPC, with its own h11 client state."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader, self.writer = reader, writer
        self.h = h11.Connection(h11.CLIENT, max_incomplete_event_size=http.MAX_HEADER_BYTES)

    @property
    def reusable(self) -> bool:
        return self.h.our_state is h11.IDLE and not self.reader.at_eof() and not self.writer.is_closing()

    async def next_event(self) -> h11.Event:
        while True:
            try:
                event = self.h.next_event()
            except h11.RemoteProtocolError as e:
                raise http.HttpParseError(502, f"malformed upstream response: {str(e)[:200]}") from None
            if event is h11.NEED_DATA:
                self.h.receive_data(await self.reader.read(_COPY_BYTES))
                continue
            if isinstance(event, h11.ConnectionClosed):
                raise ConnectionError("upstream closed the connection without answering")
            return event  # type: ignore[return-value]

    def finish(self) -> None:
        """After a response: ready for the next request, or closed."""
        if self.h.our_state is h11.DONE and self.h.their_state is h11.DONE:
            self.h.start_next_cycle()
        else:
            self.writer.close()


class Connection:
    def __init__(self, proxy: ChaosProxy, conn_id: int, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.proxy = proxy
        self.id = conn_id
        self.reader = reader
        self.writer = writer
        self.h = h11.Connection(h11.SERVER, max_incomplete_event_size=http.MAX_HEADER_BYTES)
        self.up: Upstream | None = None
        self.closed = False
        self.drop: asyncio.Future[InstalledFault] | None = None  # set while a websocket session is open
        self._head = bytearray()  # the bytes of the request head being read (h11 merges what check_head refuses)
        self._head_unchecked = False

    # -- closing -------------------------------------------------------------------------------------
    def close_client(self) -> None:
        self.closed = True
        self.writer.close()

    def close_all(self) -> None:
        if not self.closed:
            self.close_client()
        if self.up is not None:
            self.up.writer.close()

    # -- main loop -----------------------------------------------------------------------------------
    async def run(self) -> None:
        if await self._judge_connection(Stage.CONNECT, FaultEvent("connection", self.id)):
            return
        while not self.closed:
            start = None
            try:
                head = await self._await_head()
                if head is None:
                    return
                start = now_ms()  # the request's time: when its head arrived (not when the connection went idle)
                req = await self._read_body(http.from_h11(head))
            except http.HttpParseError as e:
                await self._reject(e, start or now_ms())
                return
            except (ConnectionError, OSError):
                self.close_client()
                return
            if not await self._serve_one(req, start) or not self._next_cycle():
                self.close_all()
                return

    def _next_cycle(self) -> bool:
        if self.h.our_state is h11.DONE and self.h.their_state is h11.DONE:
            self.h.start_next_cycle()
            self._head = bytearray(self.h.trailing_data[0][: http.MAX_HEADER_BYTES + 1])
            self._head_unchecked = bool(self._head)
            return True
        return False

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

    async def _next_event(self) -> h11.Event:
        """The client's next h11 event, reading as needed; HttpParseError on anything h11 or check_head refuses."""
        while True:
            if self._head_unchecked and self.h.their_state is h11.IDLE:
                self._head_unchecked = False
                http.check_head(bytes(self._head).lstrip(b"\r\n"))
            try:
                event = self.h.next_event()
            except h11.RemoteProtocolError as e:
                raise http.h11_error(e) from None
            if event is h11.NEED_DATA:
                data = await self.reader.read(_COPY_BYTES)
                if self.h.their_state is h11.IDLE and len(self._head) <= http.MAX_HEADER_BYTES:
                    self._head += data
                    self._head_unchecked = b"\n" in data or len(self._head) > http.MAX_HEADER_BYTES
                self.h.receive_data(data)
                continue
            return event  # type: ignore[return-value]

    async def _read_head(self) -> h11.Request | None:
        event = await self._next_event()
        return event if isinstance(event, h11.Request) else None  # ConnectionClosed: the client is done

    async def _await_head(self) -> h11.Request | None:
        """Wait for the next request head; close the connection if a close_idle fault says so."""
        table = self.proxy.table
        table.idle_reset(self.id)
        idle_since = now_ms()
        read = asyncio.ensure_future(self._read_head())
        try:
            while True:
                threshold = table.idle_threshold_ms(self.id)
                timeout = None if threshold is None else max(0.0, (idle_since + threshold - now_ms()) / 1000.0)
                changed = self.proxy.changed
                done, _ = await asyncio.wait({read, changed}, timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
                if read in done:
                    return read.result()
                if changed in done or threshold is None:
                    continue
                event = FaultEvent("connection", self.id, idle_ms=now_ms() - idle_since)
                if await self._judge_connection(Stage.IDLE, event):
                    return None
        finally:
            if not read.done():
                read.cancel()

    async def _read_body(self, req: http.HttpRequest) -> http.HttpRequest:
        if self.h.they_are_waiting_for_100_continue:
            self.writer.write(self.h.send(h11.InformationalResponse(status_code=100, headers=[], reason=b"Continue")) or b"")
        body = bytearray()
        while True:
            event = await self._next_event()
            if isinstance(event, h11.Data):
                body += event.data
                if len(body) > http.MAX_BODY_BYTES:
                    raise http.HttpParseError(413, f"request body exceeds {http.MAX_BODY_BYTES} bytes")
            elif isinstance(event, h11.EndOfMessage):
                return http.with_payload(req, bytes(body))
            else:  # pragma: no cover - h11 raises on a truncated body before
                raise http.HttpParseError(400, "truncated request body")

    async def _reject(self, e: http.HttpParseError, start: float) -> None:
        with contextlib.suppress(ConnectionError, OSError):
            self.writer.write(http.simple_response(e.status, http.REASONS.get(e.status, "Error"), e.reason))
            await asyncio.wait_for(self.writer.drain(), 2.0)
        self.proxy.record(kind="connection", conn_id=self.id, start_ms=start, end_ms=now_ms(),
                          outcome=str(Outcome.BAD_REQUEST), status=e.status, error=e.reason)  # fmt: skip
        self.close_client()

    # -- one request ---------------------------------------------------------------------------------
    async def _serve_one(self, req: http.HttpRequest, start: float) -> bool:
        """Handle one request; True if the connection may carry the next one."""
        kind = "websocket" if req.websocket else "http"
        rec = self.proxy.record(kind=kind, conn_id=self.id, start_ms=start, end_ms=None, methods=req.rpc_methods,
                                path=req.path[:_MAX_PATH_CHARS], bytes_in=req.wire_size)  # fmt: skip
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
        except (http.HttpParseError, h11.LocalProtocolError, ConnectionError, OSError) as e:
            rec.outcome, rec.error = str(Outcome.UPSTREAM_ERROR), f"{type(e).__name__}: {str(e)[:300]}"
            keep = False
            if self.up is None:  # could not connect upstream: the client sees a reset, as without the proxy
                rst(self.writer)
                self.closed = True
            elif isinstance(e, http.HttpParseError) and self.h.our_state is h11.SEND_RESPONSE:
                with contextlib.suppress(ConnectionError, OSError):  # garbage from upstream: 502 (RFC 9112 6.3)
                    self.writer.write(http.simple_response(502, http.REASONS[502], e.reason))
            self.close_all()
        if rec.end_ms is None:
            rec.end_ms = now_ms()
        return keep

    async def _upstream(self) -> Upstream:
        if self.up is None or not self.up.reusable:
            if self.up is not None:
                self.up.writer.close()
            self.up = None
            r, w = await asyncio.open_connection(self.proxy.upstream_host, self.proxy.upstream_port, limit=http.MAX_HEADER_BYTES)
            self.up = Upstream(r, w)
        return self.up

    async def _forward(self, req: http.HttpRequest, rec: ProxiedRequest) -> bool:
        up = await self._upstream()
        host = f"{self.proxy.upstream_host}:{self.proxy.upstream_port}"
        up.writer.write(b"".join(up.h.send(e) or b"" for e in req.h11_events(host)))
        await up.writer.drain()
        while True:
            event = await up.next_event()
            if isinstance(event, h11.InformationalResponse) and event.status_code != 101:
                if event.status_code != 100:  # the client had the proxy's own 100 Continue
                    self.writer.write(self.h.send(_informational(event)) or b"")
                continue
            break
        rec.status = event.status_code  # type: ignore[attr-defined]
        if isinstance(event, h11.InformationalResponse):  # 101 Switching Protocols
            return await self._switch(event, rec)
        assert isinstance(event, h11.Response)
        head = self.h.send(h11.Response(status_code=event.status_code, headers=event.headers.raw_items(), reason=event.reason))
        self.writer.write(head or b"")
        out = len(head or b"")
        status_body = bytearray() if "status" in req.rpc_methods else None
        while True:
            event = await up.next_event()
            if isinstance(event, h11.Data):
                chunk = self.h.send(h11.Data(data=event.data)) or b""
                self.writer.write(chunk)
                out += len(chunk)
                if status_body is not None and len(status_body) <= _STATUS_BODY_MAX:
                    status_body += event.data
                if self.writer.transport.get_write_buffer_size() > _COPY_BYTES:
                    await self._drain(rec, out)
            elif isinstance(event, h11.EndOfMessage):
                self.writer.write(self.h.send(h11.EndOfMessage(headers=event.headers.raw_items())) or b"")
                break
        up.finish()
        if status_body is not None and len(status_body) <= _STATUS_BODY_MAX:
            h = status_height(bytes(status_body))
            if h is not None:
                self.proxy.observe_height(h)
        if not await self._drain(rec, out):
            return False
        rec.bytes_out, rec.outcome, rec.end_ms = out, str(Outcome.OK), now_ms()
        return True

    async def _drain(self, rec: ProxiedRequest, out: int) -> bool:
        try:
            await self.writer.drain()
        except (ConnectionError, OSError) as e:
            rec.bytes_out, rec.outcome, rec.error, rec.end_ms = out, str(Outcome.CLIENT_GONE), str(e)[:300], now_ms()
            return False
        return True

    async def _switch(self, event: h11.InformationalResponse, rec: ProxiedRequest) -> bool:
        """The upstream accepted a websocket upgrade: pass the 101 on, then pump bytes both ways."""
        assert self.up is not None
        head = self.h.send(_informational(event)) or b""
        self.writer.write(head)
        if not await self._drain(rec, len(head)):
            return False
        rec.bytes_out, rec.outcome, rec.end_ms = len(head), str(Outcome.OK), now_ms()
        await self._websocket(to_client=self.up.h.trailing_data[0], to_upstream=self.h.trailing_data[0])
        return False

    # -- websocket -----------------------------------------------------------------------------------
    async def _websocket(self, *, to_client: bytes, to_upstream: bytes) -> None:
        assert self.up is not None
        session = WebsocketSession(self)
        rec = self.proxy.record(kind="websocket", conn_id=self.id, start_ms=session.started_ms, end_ms=None, path="/websocket")
        self.drop = asyncio.get_running_loop().create_future()
        self.proxy.websockets[self.id] = self
        up = asyncio.ensure_future(session.to_chain(self.reader, self.up.writer, to_upstream))
        down = asyncio.ensure_future(session.to_node(self.up.reader, to_client))  # bytes that came with the 101 first
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
            rec.bytes_in, rec.bytes_out = session.bytes["in"], session.bytes["out"]
            if session.held:
                rec.error = f"{session.held} held message(s) never delivered: the websocket closed while they were held"
            rec.end_ms = now_ms()


def _informational(event: h11.InformationalResponse) -> h11.InformationalResponse:
    return h11.InformationalResponse(status_code=event.status_code, headers=event.headers.raw_items(), reason=event.reason)
