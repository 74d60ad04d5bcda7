"""Async CometBFT JSON-RPC client (HTTP POST), one aiohttp session = its own TCP connections.

Errors are split by what a caller can do about them:
    ChainTransportError  EOF / server disconnected, reset, refused, timeout: retry on another connection
    NodeRpcError             the node answered with a JSON-RPC error object: do not retry
    QueryError           abci_query answered with a non-zero code (harness.errors)
"""

from __future__ import annotations

import base64
import itertools
import json
from typing import Any

import aiohttp
from google.protobuf.message import Message

import harness.proto as p
from harness.errors import ChainError, QueryError


class ChainTransportError(ChainError):
    """The connection failed (EOF, reset, refused, timeout); the call may be retried on another connection."""


class NodeRpcError(ChainError):
    def __init__(self, method: str, code: int, message: str, data: str = "") -> None:
        self.method, self.code, self.data = method, code, data
        super().__init__(f"{method}: JSON-RPC error {code} {message}: {data}")


def describe(e: BaseException) -> str:
    if isinstance(e, aiohttp.ServerDisconnectedError):
        return "EOF (server closed the connection without answering)"
    if isinstance(e, TimeoutError):
        return "timeout"
    text = str(e) or type(e).__name__
    return f"{type(e).__name__}: {text}"


class NodeRpcClient:
    """One chain RPC client. `ids` count up from 0 per client, like the Go client.

    `max_connections` bounds its TCP connections; a pool slot uses 1 so that a slot is one connection (as one Go
    cosmos client is one connection): a fault on that connection breaks the slot, and calls on it queue."""

    def __init__(self, url: str, *, name: str = "rpc", max_connections: int = 8) -> None:
        self.url = url.rstrip("/") + "/"
        self.name = name
        self._ids = itertools.count()
        self.session = aiohttp.ClientSession(
            connector=aiohttp.TCPConnector(limit=max_connections, force_close=False, enable_cleanup_closed=True),
            headers={"User-Agent": f"harness-apinode/{name}"},
        )

    async def close(self) -> None:
        await self.session.close()

    async def call(self, method: str, params: dict[str, Any] | None = None, *, timeout_s: float = 5.0) -> Any:
        req_id = next(self._ids)
        body = {"jsonrpc": "2.0", "id": req_id, "method": method, "params": params or {}}
        try:
            async with self.session.post(self.url, json=body, timeout=aiohttp.ClientTimeout(total=timeout_s)) as r:
                raw = await r.read()
                status = r.status
        except (aiohttp.ClientConnectionError, aiohttp.ClientPayloadError, TimeoutError, ConnectionError) as e:
            raise ChainTransportError(f"{method} via {self.url}: {describe(e)}") from e
        try:
            data = json.loads(raw)
        except ValueError:
            raise ChainTransportError(f"{method} via {self.url}: HTTP {status}, body is not JSON: {raw[:200]!r}") from None
        if not isinstance(data, dict):
            raise ChainTransportError(f"{method} via {self.url}: unexpected response {str(data)[:200]}")
        if "error" in data:
            err = data["error"] or {}
            raise NodeRpcError(method, int(err.get("code", 0)), str(err.get("message", "")), str(err.get("data", "")))
        if data.get("id") != req_id:
            raise ChainTransportError(f"{method} via {self.url}: wrong ID: sent {req_id}, got {data.get('id')!r}")
        return data.get("result")

    async def health(self, *, timeout_s: float = 1.0) -> None:
        await self.call("health", {}, timeout_s=timeout_s)


async def abci_query(call, path: str, request: Message | None = None, *, timeout_s: float = 5.0) -> Message:
    """abci_query through any `call(method, params, timeout_s=)`; decodes the response type from harness.proto.QUERIES."""
    req_cls, resp_cls = p.QUERIES[path]
    req = request if request is not None else req_cls()
    params = {"path": path, "data": req.SerializeToString().hex().upper(), "height": "0", "prove": False}
    result = await call("abci_query", params, timeout_s=timeout_s)
    resp = (result or {}).get("response") or {}
    code = int(resp.get("code") or 0)
    if code != 0:
        raise QueryError(path, code, str(resp.get("log", "")), str(resp.get("codespace", "")))
    msg = resp_cls()
    msg.ParseFromString(base64.b64decode(resp.get("value") or ""))
    return msg
