"""Watch websocket frames going from the chain to its client and pick out the block height of NewBlock events.

The proxy passes websocket bytes through untouched; the sniffer reads a copy with wsproto (RFC 6455 framing,
fragmentation, UTF-8) and never blocks or alters the pump. Frames are uncompressed because the proxy drops
`Sec-WebSocket-Extensions` from the upgrade request. A message over _MAX_MESSAGE_CHARS is skipped (a NewBlock
header is small); a stream that is not valid websocket framing stops the sniffing, not the connection.
"""

from __future__ import annotations

import json

from wsproto.connection import Connection, ConnectionType
from wsproto.events import BytesMessage, CloseConnection, TextMessage
from wsproto.utilities import LocalProtocolError

from harness.validate import MAX_INT64

_MAX_MESSAGE_CHARS = 8 * 1024 * 1024


class FrameSniffer:
    """`feed(data)` with the bytes the server sent; returns the heights of the complete NewBlock messages in them."""

    def __init__(self) -> None:
        self._ws = Connection(ConnectionType.CLIENT)  # the server's frames, as its client reads them
        self._parts: list[str | bytes] = []
        self._size = 0
        self._oversized = False
        self.stopped = False  # the stream ended or stopped being websocket framing

    def feed(self, data: bytes) -> list[int]:
        if self.stopped:
            return []
        heights: list[int] = []
        try:
            self._ws.receive_data(data)
            for event in self._ws.events():
                if isinstance(event, TextMessage | BytesMessage):
                    h = self._message(event.data, event.message_finished)
                    if h is not None:
                        heights.append(h)
                elif isinstance(event, CloseConnection):
                    self.stopped = True
                    break
        except LocalProtocolError:
            self.stopped = True
        return heights

    def _message(self, part: str | bytes, finished: bool) -> int | None:
        if not self._oversized:
            self._size += len(part)
            self._oversized = self._size > _MAX_MESSAGE_CHARS
            self._parts = [] if self._oversized else [*self._parts, part]
        if not finished:
            return None
        parts, oversized = self._parts, self._oversized
        self._parts, self._size, self._oversized = [], 0, False
        if oversized or not parts:
            return None
        message = "".join(parts) if isinstance(parts[0], str) else b"".join(parts)  # type: ignore[arg-type]
        return newblock_height(message)


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
        return _height(doc["result"]["data"]["value"]["block"]["header"]["height"])
    except (ValueError, KeyError, TypeError, RecursionError):
        return None


def status_height(body: bytes) -> int | None:
    """`result.sync_info.latest_block_height` of a CometBFT `status` response, else None."""
    try:
        return _height(json.loads(body)["result"]["sync_info"]["latest_block_height"])
    except (ValueError, KeyError, TypeError, RecursionError):
        return None
