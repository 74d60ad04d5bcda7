"""Split the websocket byte stream the chain sends its client into frames and messages, and pick out the block
height of NewBlock events, so that the proxy can time each delivery and hold one back (harness/chaos/holds.py).

`FrameSplitter.feed(data)` returns pieces in stream order, each with its exact bytes: a complete control frame
(ping, pong), a complete data message (every frame of it; its NewBlock height when it is one), a close frame, or
raw bytes it does not split (see below). Forwarding every piece's bytes in order reproduces the stream byte for
byte; the proxy may send a ping or pong ahead of data messages it holds (RFC 6455 5.4 lets control frames go
between the frames of a fragmented message, so moving one ahead of whole messages keeps the framing valid).

Frames are uncompressed because the proxy drops `Sec-WebSocket-Extensions` from the upgrade request. A message over
MAX_MESSAGE_BYTES is passed on frame part by frame part as raw bytes (never held, its height not read: a NewBlock
event is far smaller). A stream that is not websocket framing as a server sends it (a masked frame, reserved bits,
an unknown opcode, a fragmented or oversized control frame, a continuation without a message) stops the splitting:
everything from there on is raw bytes, the connection itself is left alone.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from harness.validate import MAX_INT64

MAX_MESSAGE_BYTES = 8 * 1024 * 1024

OP_CONTINUATION, OP_TEXT, OP_BINARY, OP_CLOSE, OP_PING, OP_PONG = 0x0, 0x1, 0x2, 0x8, 0x9, 0xA
_DATA_OPS = (OP_TEXT, OP_BINARY)
_CONTROL_OPS = (OP_CLOSE, OP_PING, OP_PONG)


@dataclass(frozen=True, slots=True)
class Piece:
    """A run of the stream's bytes. kind: "control" (ping/pong frame), "close" (close frame), "message" (a complete
    data message, `height` set for a NewBlock event) or "raw" (bytes not split: an oversized message, or what follows
    a framing error)."""

    kind: str
    data: bytes
    height: int | None = None


class FrameSplitter:
    """Feed it the server's bytes in any chunking; it returns the pieces that are complete."""

    def __init__(self, max_message_bytes: int = MAX_MESSAGE_BYTES) -> None:
        self.max_message_bytes = max_message_bytes
        self._buf = bytearray()
        self._message = bytearray()  # the frames of the data message in progress
        self._payload = bytearray()  # its payload so far
        self._streaming = 0  # bytes of the current oversized frame still to pass on raw
        self._oversized = False  # the message in progress is passed on raw
        self.stopped = False  # the stream stopped being websocket framing: everything is raw from here on

    def feed(self, data: bytes) -> list[Piece]:
        if self.stopped:
            return [Piece("raw", bytes(data))] if data else []
        self._buf += data
        out: list[Piece] = []
        while self._buf and not self.stopped:
            if self._streaming:
                n = min(self._streaming, len(self._buf))
                out.append(Piece("raw", bytes(self._buf[:n])))
                del self._buf[:n]
                self._streaming -= n
                continue
            if not self._next_frame(out):
                break
        if self.stopped:
            rest = bytes(self._message) + bytes(self._buf)
            self._message.clear()
            self._buf.clear()
            if rest:
                out.append(Piece("raw", rest))
        return out

    @property
    def pending(self) -> bytes:
        """Bytes fed but not returned yet: an incomplete frame, or the frames of a message not complete yet."""
        return bytes(self._message) + bytes(self._buf)

    def _next_frame(self, out: list[Piece]) -> bool:
        """Take one frame off the buffer; False when it is not complete yet."""
        head = _frame_head(self._buf)
        if head is None:
            return False
        fin, opcode, head_len, length = head
        if not self._valid(fin, opcode, length):
            self.stopped = True
            return False
        if opcode in _CONTROL_OPS:
            if len(self._buf) < head_len + length:
                return False
            frame = bytes(self._buf[: head_len + length])
            del self._buf[: head_len + length]
            out.append(Piece("close" if opcode == OP_CLOSE else "control", frame))
            return True
        if self._oversized or len(self._payload) + length > self.max_message_bytes:
            return self._stream_frame(out, fin, head_len, length)
        if len(self._buf) < head_len + length:
            return False
        self._message += self._buf[: head_len + length]
        self._payload += self._buf[head_len : head_len + length]
        del self._buf[: head_len + length]
        if fin:
            out.append(Piece("message", bytes(self._message), newblock_height(bytes(self._payload))))
            self._message.clear()
            self._payload.clear()
        return True

    def _valid(self, fin: bool, opcode: int, length: int) -> bool:
        if opcode in _CONTROL_OPS:
            return fin and length <= 125
        if opcode == OP_CONTINUATION:
            return bool(self._message) or self._oversized
        return opcode in _DATA_OPS and not self._message and not self._oversized

    def _stream_frame(self, out: list[Piece], fin: bool, head_len: int, length: int) -> bool:
        """An oversized message: what was kept of it and this frame go on as raw bytes."""
        if self._message:
            out.append(Piece("raw", bytes(self._message)))
            self._message.clear()
            self._payload.clear()
        self._oversized = not fin
        out.append(Piece("raw", bytes(self._buf[:head_len])))
        del self._buf[:head_len]
        self._streaming = length
        return True


def _frame_head(buf: bytearray) -> tuple[bool, int, int, int] | None:
    """(fin, opcode, header length, payload length) of the frame at the start of `buf`, None if incomplete; opcode
    -1 for a frame a server must not send (masked, reserved bits set)."""
    if len(buf) < 2:
        return None
    b0, b1 = buf[0], buf[1]
    fin, opcode = bool(b0 & 0x80), b0 & 0x0F
    if b0 & 0x70 or b1 & 0x80:  # reserved bits (no extension was negotiated) or a masked server frame
        return fin, -1, 2, 0
    length, head_len = b1 & 0x7F, 2
    if length == 126:
        if len(buf) < 4:
            return None
        length, head_len = int.from_bytes(buf[2:4], "big"), 4
    elif length == 127:
        if len(buf) < 10:
            return None
        length, head_len = int.from_bytes(buf[2:10], "big"), 10
    return fin, opcode, head_len, length


def _height(value: object) -> int | None:
    try:
        h = int(value)  # type: ignore[call-overload]
    except (TypeError, ValueError):
        return None
    return h if 0 <= h <= MAX_INT64 else None


def newblock_height(message: str | bytes) -> int | None:
    """Height of a CometBFT NewBlock event message (`result.data.value.block.header.height`), else None."""
    if ("NewBlock" if isinstance(message, str) else b"NewBlock") not in message:  # type: ignore[operator]
        return None
    try:
        doc = json.loads(message)
        if doc["result"]["data"]["type"] != "tendermint/event/NewBlock":
            return None
        return _height(doc["result"]["data"]["value"]["block"]["header"]["height"])
    except (ValueError, KeyError, TypeError, RecursionError):
        return None


def status_height(body: bytes) -> int | None:
    """`result.sync_info.latest_block_height` of a CometBFT `status` response, else None."""
    try:
        return _height(json.loads(body)["result"]["sync_info"]["latest_block_height"])
    except (ValueError, KeyError, TypeError, RecursionError):
        return None
