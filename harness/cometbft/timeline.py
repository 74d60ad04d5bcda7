"""The block timeline: every NewBlock seen over the websocket, with its block time and the time it arrived.

A background thread subscribes to `tm.event='NewBlock'` (string id "1", as Gonka's API node does), reconnects
with bounded backoff when the socket drops, and fills any missed heights from `/block` so the audit always has
a gap-free (height -> time) map. Records from gap filling carry `source="rpc"`.
"""

from __future__ import annotations

import json
import threading
import time
from dataclasses import asdict, dataclass
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from websockets.exceptions import ConnectionClosed, InvalidHandshake, InvalidURI
from websockets.sync.client import ClientConnection, connect

from harness.cometbft.client import RpcClient
from harness.cometbft.rfc3339 import parse_rfc3339_ms
from harness.errors import ChainError, ConfigError, StartupError
from harness.util.wait import wait_until

NEW_BLOCK_QUERY = "tm.event='NewBlock'"
SUB_ID = "1"
MAX_GAP_FILL = 10_000  # blocks fetched over RPC after one disconnect, at most


@dataclass(frozen=True)
class BlockSeen:
    height: int
    block_time_ms: int
    received_ms: int
    source: str = "ws"  # "ws" (NewBlock event) or "rpc" (gap filled after a reconnect)


def _now_ms() -> int:
    return time.time_ns() // 1_000_000


def ws_and_http_urls(url: str) -> tuple[str, str]:
    """(ws://host:port/websocket, http://host:port) from either form."""
    parts = urlsplit(url)
    if parts.scheme not in ("ws", "wss", "http", "https") or not parts.netloc:
        raise ConfigError(f"block timeline url {url!r}: expected ws://HOST:PORT/websocket or http://HOST:PORT")
    secure = parts.scheme in ("wss", "https")
    path = parts.path.rstrip("/")
    http_path = path[: -len("/websocket")] if path.endswith("/websocket") else path
    ws = urlunsplit(("wss" if secure else "ws", parts.netloc, http_path + "/websocket", "", ""))
    http = urlunsplit(("https" if secure else "http", parts.netloc, http_path, "", ""))
    return ws, http


class BlockTimeline:
    """Records (height, block time, time received) for every block. Use as a context manager or start()/stop()."""

    def __init__(
        self,
        ws_url: str,
        *,
        rpc: RpcClient | None = None,
        connect_timeout_s: float = 10.0,
        max_reconnects: int = 200,
        max_backoff_s: float = 2.0,
    ) -> None:
        self.ws_url, http_url = ws_and_http_urls(ws_url)
        self._rpc = rpc or RpcClient(http_url, timeout_s=5.0)
        self._own_rpc = rpc is None
        self.connect_timeout_s = connect_timeout_s
        self.max_reconnects = max_reconnects
        self.max_backoff_s = max_backoff_s
        self._blocks: dict[int, BlockSeen] = {}
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._subscribed = threading.Event()
        self._thread: threading.Thread | None = None
        self._ws: ClientConnection | None = None
        self.reconnects = 0
        self.disconnects: list[dict[str, Any]] = []
        self.errors: list[str] = []
        self.fatal: str | None = None

    # -- lifecycle ---------------------------------------------------------------------------------------------------

    def start(self) -> BlockTimeline:
        if self._thread is not None:
            raise ChainError("BlockTimeline already started")
        self._thread = threading.Thread(target=self._run, name=f"block-timeline {self.ws_url}", daemon=True)
        self._thread.start()
        try:
            wait_until(
                self._subscribed.is_set,
                timeout_s=self.connect_timeout_s,
                interval_s=0.01,
                what=f"NewBlock subscription on {self.ws_url}",
                abort=lambda: self.fatal,
                evidence=lambda: f"errors: {self.errors[-3:]}",
                hint="is the chain's RPC port up and does it serve /websocket?",
            )
        except Exception as e:
            self.stop()
            raise StartupError(str(e)) from None
        return self

    def stop(self) -> None:
        self._stop.set()
        ws = self._ws
        if ws is not None:
            try:
                ws.close()
            except Exception as e:  # already broken: nothing to close
                self.errors.append(f"close: {e}")
        if self._thread is not None:
            self._thread.join(timeout=5.0)
            if self._thread.is_alive():
                self.errors.append("timeline thread did not stop within 5 s")
        if self._own_rpc:
            self._rpc.close()

    def __enter__(self) -> BlockTimeline:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    # -- reading -----------------------------------------------------------------------------------------------------

    def blocks(self) -> list[BlockSeen]:
        with self._lock:
            return [self._blocks[h] for h in sorted(self._blocks)]

    def latest_height(self) -> int:
        with self._lock:
            return max(self._blocks, default=0)

    def time_of(self, height: int) -> BlockSeen | None:
        with self._lock:
            return self._blocks.get(height)

    def wait_for_height(self, h: int, timeout_s: float) -> BlockSeen:
        return wait_until(
            lambda: self.time_of(h) if self.latest_height() >= h else None,
            timeout_s=timeout_s,
            interval_s=0.01,
            what=f"NewBlock for height {h} on {self.ws_url}",
            abort=lambda: self.fatal,
            evidence=lambda: (
                f"latest height seen {self.latest_height()}, reconnects {self.reconnects}, errors {self.errors[-3:]}"
            ),
            hint="the chain stopped producing blocks, or the websocket keeps dropping",
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "ws_url": self.ws_url,
            "reconnects": self.reconnects,
            "disconnects": list(self.disconnects),
            "errors": list(self.errors),
            "fatal": self.fatal,
            "blocks": [asdict(b) for b in self.blocks()],
        }

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=1)

    # -- thread ------------------------------------------------------------------------------------------------------

    def _run(self) -> None:
        backoff_s = 0.05
        while not self._stop.is_set():
            try:
                with connect(
                    self.ws_url,
                    open_timeout=self.connect_timeout_s,
                    close_timeout=1.0,
                    max_size=None,
                    compression=None,
                    proxy=None,
                ) as ws:
                    self._ws = ws
                    if self._stop.is_set():
                        return
                    ws.send(
                        json.dumps({"jsonrpc": "2.0", "method": "subscribe", "id": SUB_ID, "params": {"query": NEW_BLOCK_QUERY}})
                    )
                    backoff_s = 0.05
                    self._read(ws)
            except (OSError, ConnectionClosed, InvalidHandshake, TimeoutError, ChainError) as e:
                if not self._stop.is_set():
                    self.disconnects.append({"at_ms": _now_ms(), "reason": f"{type(e).__name__}: {e}"})
            except InvalidURI as e:
                self.fatal = f"bad websocket url: {e}"
                return
            finally:
                self._ws = None
            if self._stop.is_set():
                return
            self.reconnects += 1
            if self.reconnects > self.max_reconnects:
                self.fatal = f"gave up after {self.max_reconnects} reconnects; last: {self.disconnects[-1:]}"
                return
            self._stop.wait(backoff_s)
            backoff_s = min(self.max_backoff_s, backoff_s * 2)

    def _read(self, ws: ClientConnection) -> None:
        first_ack = True
        for frame in ws:
            if self._stop.is_set():
                return
            try:
                msg = json.loads(frame)
            except ValueError:
                self.errors.append(f"non-JSON frame: {str(frame)[:120]!r}")
                continue
            if not isinstance(msg, dict):
                self.errors.append(f"unexpected frame: {str(frame)[:120]!r}")
                continue
            if msg.get("error") is not None:
                self.errors.append(f"error frame: {json.dumps(msg['error'])[:200]}")
                if msg.get("id") == SUB_ID:  # subscription refused or cancelled: reconnect and subscribe again
                    raise ChainError(f"subscription ended: {msg['error']}")
                continue
            result = msg.get("result")
            if not isinstance(result, dict):
                continue
            data = result.get("data")
            if not data:  # the empty acknowledgement of our subscribe
                if first_ack and msg.get("id") == SUB_ID:
                    first_ack = False
                    self._after_subscribe()
                continue
            if data.get("type") == "tendermint/event/NewBlock":
                self._on_new_block(data.get("value") or {})

    def _after_subscribe(self) -> None:
        """After a (re)subscribe: fill the heights missed while disconnected."""
        if self._blocks:
            try:
                self._fill_gap(self._rpc.height() + 1)
            except (ChainError, KeyError, TypeError, ValueError) as e:
                self.errors.append(f"gap fill after reconnect: {e}")
        self._subscribed.set()

    def _on_new_block(self, value: dict) -> None:
        received_ms = _now_ms()
        try:
            header = value["block"]["header"]
            height = int(header["height"])
            block_ms = parse_rfc3339_ms(header["time"])
        except (KeyError, TypeError, ValueError, ChainError) as e:
            self.errors.append(f"malformed NewBlock event: {type(e).__name__}: {e}")
            return
        try:
            self._fill_gap(height)
        except (ChainError, KeyError, TypeError, ValueError) as e:
            self.errors.append(f"gap fill before height {height}: {type(e).__name__}: {e}")
        with self._lock:
            self._blocks.setdefault(height, BlockSeen(height, block_ms, received_ms, "ws"))

    def _fill_gap(self, next_height: int) -> None:
        """Fetch every height between the last recorded one and `next_height` (exclusive) over RPC."""
        last = self.latest_height()
        if not last or next_height <= last + 1:
            return
        start = max(last + 1, next_height - MAX_GAP_FILL)
        if start > last + 1:
            self.errors.append(f"gap {last + 1}..{start - 1} too long to fill (> {MAX_GAP_FILL} blocks)")
        for h in range(start, next_height):
            if self._stop.is_set():
                return
            header = self._rpc.block(h)["block"]["header"]
            seen = BlockSeen(h, parse_rfc3339_ms(header["time"]), _now_ms(), "rpc")
            with self._lock:
                self._blocks.setdefault(h, seen)
