"""Watch websocket frames going from the chain to its client and pick out the block height of NewBlock events.

The proxy passes websocket bytes through untouched; this parser only reads a copy. It strips nothing and
never blocks the pump. Frames are uncompressed because the proxy drops `Sec-WebSocket-Extensions` from the
upgrade request.
"""

from __future__ import annotations

import json

_MAX_MESSAGE_BYTES = 8 * 1024 * 1024


class FrameSniffer:
    """Incremental RFC 6455 frame parser. `feed(data)` returns the heights seen in complete NewBlock messages."""

    def __init__(self) -> None:
        self._buf = bytearray()
        self._message = bytearray()
        self._skip = 0  # payload bytes still to skip (oversized message)
        self._oversized = False

    def feed(self, data: bytes) -> list[int]:
        heights: list[int] = []
        if self._skip:
            n = min(self._skip, len(data))
            self._skip -= n
            data = data[n:]
        self._buf += data
        while True:
            frame = self._next_frame()
            if frame is None:
                return heights
            fin, opcode, payload, oversized = frame
            if opcode >= 0x8:  # control frames
                continue
            if opcode in (0x1, 0x2):
                self._message.clear()
                self._oversized = False
            self._oversized = self._oversized or oversized
            if not self._oversized:
                self._message += payload
            if fin:
                if not self._oversized:
                    h = newblock_height(bytes(self._message))
                    if h is not None:
                        heights.append(h)
                self._message.clear()
                self._oversized = False

    def _next_frame(self) -> tuple[bool, int, bytes, bool] | None:
        buf = self._buf
        if len(buf) < 2:
            return None
        fin = bool(buf[0] & 0x80)
        opcode = buf[0] & 0x0F
        masked = bool(buf[1] & 0x80)
        length = buf[1] & 0x7F
        pos = 2
        if length == 126:
            if len(buf) < 4:
                return None
            length = int.from_bytes(buf[2:4], "big")
            pos = 4
        elif length == 127:
            if len(buf) < 10:
                return None
            length = int.from_bytes(buf[2:10], "big")
            pos = 10
        mask = b""
        if masked:
            if len(buf) < pos + 4:
                return None
            mask = bytes(buf[pos : pos + 4])
            pos += 4
        if length + len(self._message) > _MAX_MESSAGE_BYTES:
            # too big to be a NewBlock header worth reading: skip its payload
            available = len(buf) - pos
            self._skip = max(0, length - available)
            del buf[: min(len(buf), pos + length)]
            return fin, opcode, b"", True
        if len(buf) < pos + length:
            return None
        payload = bytes(buf[pos : pos + length])
        del buf[: pos + length]
        if mask:
            payload = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
        return fin, opcode, payload, False


def newblock_height(message: bytes) -> int | None:
    """Height of a CometBFT NewBlock event message (`result.data.value.block.header.height`), else None."""
    if b"NewBlock" not in message:
        return None
    try:
        doc = json.loads(message)
        value = doc["result"]["data"]["value"]
        return int(value["block"]["header"]["height"])
    except (ValueError, KeyError, TypeError):
        return None


def status_height(body: bytes) -> int | None:
    """`result.sync_info.latest_block_height` of a CometBFT `status` response, else None."""
    try:
        return int(json.loads(body)["result"]["sync_info"]["latest_block_height"])
    except (ValueError, KeyError, TypeError):
        return None
