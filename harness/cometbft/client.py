"""Synchronous CometBFT 0.38 JSON-RPC client (HTTP POST), as the Go client speaks it.

Integer ids counting up from 0 and checked on every response; int64 params as JSON strings; `abci_query` data as
upper-case hex; `tx`/`broadcast_tx_*` bytes as base64. Works against simnet and a real node's RPC port (26657).
"""

from __future__ import annotations

import base64
import itertools
import json
import math
import statistics
import threading
import time
from dataclasses import dataclass
from typing import Any

import requests
from google.protobuf.message import DecodeError, Message

from harness.cometbft.rfc3339 import parse_rfc3339_ns
from harness.errors import ChainError, ConfigError, QueryError, RpcTransportError
from harness.proto import QUERIES
from harness.util.wait import wait_until

# Used when the chain has fewer than two blocks to measure: CometBFT's default timeout_commit (Gonka runs ~5 s blocks).
DEFAULT_BLOCK_TIME_S = 5.0
STALL_BLOCKS = 10  # wait_for_height fails when the chain made no block for this many of its measured intervals,
STALL_FLOOR_S = 10.0  # and never sooner than this (a chain holding its upgrade height, a paused machine)
BLOCK_BOUND = 5  # ... or after this many times deadline_for_blocks, however slowly blocks keep coming


class RpcError(ChainError):
    """A JSON-RPC error object: `code`, `message` and `data` exactly as the node sent them."""

    def __init__(self, method: str, code: int, message: str, data: str = "") -> None:
        self.method, self.code, self.message, self.data = method, code, message, data
        super().__init__(f"RPC error {code} - {message}{': ' + data if data else ''} (method {method})")


@dataclass
class AbciResult:
    code: int
    log: str
    value: bytes
    height: int
    codespace: str = ""
    info: str = ""


@dataclass
class BroadcastResult:
    code: int
    log: str
    codespace: str
    hash: str
    data: str = ""


class RpcClient:
    """JSON-RPC over HTTP POST to a CometBFT RPC endpoint such as http://127.0.0.1:26657."""

    def __init__(self, url: str, timeout_s: float = 10.0) -> None:
        if not isinstance(url, str) or not url.startswith(("http://", "https://")):
            raise ConfigError(f"RPC url {url!r} must start with http:// or https://, e.g. http://127.0.0.1:26657")
        if timeout_s <= 0:
            raise ConfigError(f"timeout_s must be > 0, got {timeout_s}")
        self.url = url.rstrip("/")
        self.timeout_s = timeout_s
        self._ids = itertools.count(0)
        self._lock = threading.Lock()
        self._session = requests.Session()

    def close(self) -> None:
        self._session.close()

    def __enter__(self) -> RpcClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"RpcClient({self.url!r})"

    # -- envelope ----------------------------------------------------------------------------------------------------

    def call(self, method: str, params: dict | list | None = None) -> Any:
        """One JSON-RPC call; returns `result`. Raises RpcError for an error object, RpcTransportError otherwise."""
        with self._lock:
            req_id = next(self._ids)
        body = {"jsonrpc": "2.0", "id": req_id, "method": method, "params": params if params is not None else {}}
        try:
            resp = self._session.post(self.url, json=body, timeout=self.timeout_s)
        except requests.RequestException as e:
            raise RpcTransportError(f"{method} to {self.url} failed: {type(e).__name__}: {e}") from e
        try:
            reply = resp.json()
        except ValueError:
            snippet = resp.text[:200]
            raise RpcTransportError(
                f"{method} to {self.url}: HTTP {resp.status_code} with a non-JSON body {snippet!r}; is this a CometBFT RPC port?"
            ) from None
        if not isinstance(reply, dict):
            raise RpcTransportError(f"{method} to {self.url}: expected a JSON object, got {type(reply).__name__}")
        err = reply.get("error")
        if err is not None:  # the Go client checks error before id (parse errors carry no id at all)
            if not isinstance(err, dict):
                raise RpcError(method, -1, str(err))
            raise RpcError(method, int(err.get("code", 0)), str(err.get("message", "")), str(err.get("data") or ""))
        got = reply.get("id")
        if isinstance(got, bool) or not isinstance(got, int) or got != req_id:
            raise RpcTransportError(f"{method} to {self.url}: wrong ID: sent {req_id}, got {got!r}")
        if "result" not in reply:
            raise RpcTransportError(f"{method} to {self.url}: response has neither result nor error: {json.dumps(reply)[:200]}")
        return reply["result"]

    # -- info and blocks ---------------------------------------------------------------------------------------------

    def health(self) -> dict:
        return self.call("health")

    def status(self) -> dict:
        return self.call("status")

    def height(self) -> int:
        return int(self.status()["sync_info"]["latest_block_height"])

    def chain_id(self) -> str:
        return str(self.status()["node_info"]["network"])

    def block(self, height: int | None = None) -> dict:
        return self.call("block", {"height": str(height)} if height is not None else {})

    def validators(self, height: int | None = None) -> dict:
        return self.call("validators", {"height": str(height)} if height is not None else {})

    # -- ABCI queries ------------------------------------------------------------------------------------------------

    def abci_query(self, path: str, data: bytes | Message = b"", height: int = 0, prove: bool = False) -> AbciResult:
        raw = data.SerializeToString() if isinstance(data, Message) else bytes(data)
        params = {"path": path, "data": raw.hex().upper(), "height": str(height), "prove": prove}
        r = self.call("abci_query", params)["response"]
        value = r.get("value")
        return AbciResult(
            code=int(r.get("code") or 0),
            log=str(r.get("log") or ""),
            value=base64.b64decode(value) if value else b"",
            height=int(r.get("height") or 0),
            codespace=str(r.get("codespace") or ""),
            info=str(r.get("info") or ""),
        )

    def query_at(self, path: str, request_msg: Message, height: int = 0) -> tuple[Message, int]:
        """A typed query: (decoded response, height the state was read at). QueryError on a non-zero code."""
        if path not in QUERIES:
            raise ConfigError(f"no request/response types known for query path {path!r}; known: {sorted(QUERIES)}")
        req_cls, resp_cls = QUERIES[path]
        if not isinstance(request_msg, req_cls):
            raise ConfigError(f"{path} takes {req_cls.DESCRIPTOR.full_name}, got {type(request_msg).__name__}")
        r = self.abci_query(path, request_msg, height=height)
        if r.code != 0:
            raise QueryError(path, r.code, r.log, r.codespace)
        try:
            return resp_cls.FromString(r.value), r.height
        except DecodeError as e:
            raise ChainError(f"{path}: response value is not a {resp_cls.DESCRIPTOR.full_name}: {e}") from None

    def query(self, path: str, request_msg: Message, height: int = 0) -> Any:
        return self.query_at(path, request_msg, height)[0]

    # -- transactions ------------------------------------------------------------------------------------------------

    def broadcast_tx_sync(self, raw: bytes) -> BroadcastResult:
        r = self.call("broadcast_tx_sync", {"tx": base64.b64encode(bytes(raw)).decode()})
        return BroadcastResult(
            code=int(r.get("code") or 0),
            log=str(r.get("log") or ""),
            codespace=str(r.get("codespace") or ""),
            hash=str(r.get("hash") or ""),
            data=str(r.get("data") or ""),
        )

    def tx(self, hash_hex: str) -> dict | None:
        """The indexed tx (`ResultTx`), or None while the node answers "not found"."""
        try:
            raw_hash = bytes.fromhex(hash_hex)
        except ValueError:
            raise ConfigError(f"tx hash {hash_hex!r} is not hex; expected 64 hex characters") from None
        if len(raw_hash) != 32:
            raise ConfigError(f"tx hash {hash_hex!r}: expected 32 bytes (64 hex characters), got {len(raw_hash)}")
        try:
            return self.call("tx", {"hash": base64.b64encode(raw_hash).decode(), "prove": False})
        except RpcError as e:
            if "not found" in e.data or "not found" in e.message:
                return None
            raise

    def wait_for_tx(self, hash_hex: str, timeout_s: float | None = None) -> dict:
        timeout = timeout_s if timeout_s is not None else self.deadline_for_blocks(3)
        return wait_until(
            lambda: self.tx(hash_hex),
            timeout_s=timeout,
            what=f"tx {hash_hex} to be included in a block",
            evidence=self._height_evidence,
            hint="the tx passed CheckTx but was not committed; is the chain producing blocks?",
        )

    # -- heights and block time --------------------------------------------------------------------------------------

    def block_time_s(self, window: int = 10) -> float:
        """Mean block interval over the last `window` blocks (DEFAULT_BLOCK_TIME_S before there are two blocks)."""
        st = self.status()["sync_info"]
        latest = int(st["latest_block_height"])
        if latest < 2:
            return DEFAULT_BLOCK_TIME_S
        old = max(1, latest - window)
        old_time = self.block(old)["block"]["header"]["time"]
        elapsed_ns = parse_rfc3339_ns(st["latest_block_time"]) - parse_rfc3339_ns(old_time)
        return max(0.0, elapsed_ns / 1e9 / (latest - old))

    def typical_block_interval_s(self, window: int = 10) -> float:
        """The median interval between consecutive blocks among the last `window` blocks (DEFAULT_BLOCK_TIME_S before
        there are two). A count of blocks in a period is safe from it: the mean is inflated by a few slow blocks (a
        chain holding its upgrade height), which undercounts a voting period measured in blocks, and the shortest
        interval is a block produced right after a late one (a chain catching up with its schedule)."""
        latest = self.height()
        if latest < 2:
            return DEFAULT_BLOCK_TIME_S
        lo = max(1, latest - min(max(window, 1), 19))
        metas = self.call("blockchain", {"minHeight": str(lo), "maxHeight": str(latest)}).get("block_metas") or []
        times = sorted(parse_rfc3339_ns(m["header"]["time"]) for m in metas)
        gaps = [b - a for a, b in itertools.pairwise(times)]
        return statistics.median(gaps) / 1e9 if gaps else DEFAULT_BLOCK_TIME_S

    def deadline_for_blocks(self, blocks: int, *, block_time_s: float | None = None) -> float:
        """A generous deadline for `blocks` more blocks: 3x the measured block time, plus slack."""
        bt = block_time_s if block_time_s is not None else self.block_time_s()
        return max(0, blocks) * bt * 3 + max(2.0, 2 * bt)

    def wait_for_height(self, h: int, timeout_s: float | None = None) -> int:
        """Wait until the latest height is >= h; returns it. Bounded in blocks: the wait goes on while the chain makes
        blocks (a loaded machine makes them slowly) and fails once it made none for STALL_BLOCKS of its measured
        intervals (at least STALL_FLOOR_S), or after BLOCK_BOUND times the measured time of the blocks still to
        come. `timeout_s`: a fixed bound in seconds instead, with no stall rule."""
        current = self.height()
        if current >= h:
            return current
        bt = self.block_time_s()
        interval = min(0.25, max(0.01, bt / 4))
        seen = [current, time.monotonic()]  # latest height, and when it was first seen
        stall_s = max(STALL_FLOOR_S, STALL_BLOCKS * bt)

        def reached() -> int:
            got = self.height()
            if got > seen[0]:
                seen[0], seen[1] = got, time.monotonic()
            return got if got >= h else 0

        def stalled() -> str | None:
            quiet = time.monotonic() - seen[1]
            if timeout_s is None and quiet >= stall_s:
                return f"no new block for {quiet:.1f}s ({STALL_BLOCKS} intervals of the measured {bt:.3f}s) at height {seen[0]}"
            return None

        bound = timeout_s if timeout_s is not None else BLOCK_BOUND * self.deadline_for_blocks(h - current, block_time_s=bt)
        return wait_until(
            reached,
            timeout_s=bound,
            interval_s=interval,
            what=f"height {h} on {self.url} (height was {current}, measured block time {bt:.3f}s)",
            evidence=self._height_evidence,
            abort=stalled,
            hint="the chain stopped producing blocks, or makes them far slower than it did",
            progress=lambda: f"height {seen[0]} of {h}",
        )

    def _height_evidence(self) -> str:
        try:
            st = self.status()["sync_info"]
            return f"latest height {st['latest_block_height']} at block time {st['latest_block_time']} (now {time.time():.3f})"
        except ChainError as e:
            return f"status unavailable: {e}"


def block_time_ceil_blocks(duration_s: float, block_time_s: float) -> int:
    """How many blocks a duration spans at a block time (at least 1)."""
    if block_time_s <= 0:
        return 1
    return max(1, math.ceil(duration_s / block_time_s))
