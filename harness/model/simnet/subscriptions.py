"""Websocket connections and event subscriptions: subscribe/unsubscribe/unsubscribe_all, and the per-block
fan-out of NewBlock and Tx events as JSON-RPC responses carrying the subscription's id (same JSON type) and
the query string exactly as sent. Each connection has a writer task; a dead or slow client only loses its own
subscriptions.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from harness.model.simnet import encoding as enc
from harness.model.simnet.node import Node
from harness.model.simnet.query import MAX_QUERY_BYTES, Query, QueryParseError, parse_query

log = logging.getLogger("harness.model.simnet.ws")

WS_ONLY = {"subscribe", "unsubscribe", "unsubscribe_all"}
MAX_SUBS_PER_CLIENT = 5
MAX_CLIENTS = 100
MAX_PENDING_EVENTS = 1000


def _dumps(obj: Any) -> str:
    return json.dumps(obj, separators=(",", ":"), ensure_ascii=False)


@dataclass
class Subscription:
    query: Query
    id_json: str  # the subscribe request's id, JSON-encoded (keeps its type)
    query_json: str


@dataclass(eq=False)
class WsConn:
    ws: web.WebSocketResponse
    remote: str
    subs: dict[str, Subscription] = field(default_factory=dict)  # canonical query -> subscription
    queue: asyncio.Queue[tuple[str, bool]] = field(default_factory=asyncio.Queue)
    pending_events: int = 0
    writer: asyncio.Task[None] | None = None

    def send(self, text: str, *, event: bool = False) -> None:
        if event:
            self.pending_events += 1
        self.queue.put_nowait((text, event))


class Hub:
    def __init__(self, node: Node, call: Callable[[str, Any, Any], dict[str, Any]]) -> None:
        self.node = node
        self.call = call
        self.conns: set[WsConn] = set()
        node.listeners.append(self.on_block)

    # -- connections ---------------------------------------------------------------------
    def attach(self, conn: WsConn) -> None:
        self.conns.add(conn)
        conn.writer = asyncio.get_running_loop().create_task(self._write(conn))

    async def detach(self, conn: WsConn) -> None:
        self.conns.discard(conn)
        conn.subs.clear()
        if conn.writer is not None:
            conn.writer.cancel()
            with contextlib.suppress(BaseException):
                await conn.writer

    async def close_all(self) -> None:
        for conn in list(self.conns):
            with contextlib.suppress(Exception):
                await conn.ws.close()
            await self.detach(conn)

    async def _write(self, conn: WsConn) -> None:
        try:
            while True:
                text, is_event = await conn.queue.get()
                if is_event:
                    conn.pending_events -= 1
                await conn.ws.send_str(text)
        except asyncio.CancelledError:
            raise
        except Exception as e:  # peer gone: stop writing, the reader side cleans up
            log.debug("websocket %s write failed: %s", conn.remote, e)
            conn.subs.clear()
            with contextlib.suppress(Exception):
                await conn.ws.close()

    # -- requests ------------------------------------------------------------------------
    def handle_frame(self, conn: WsConn, data: str) -> None:
        try:
            req = json.loads(data)
        except (json.JSONDecodeError, ValueError) as e:
            conn.send(_dumps(_parse_error(str(e))))
            return
        if not isinstance(req, dict):
            conn.send(_dumps(_parse_error(f"json: cannot unmarshal {type(req).__name__} into a request object")))
            return
        id_ = req.get("id")
        if isinstance(id_, bool) or not isinstance(id_, int | float | str | None):
            conn.send(_dumps(_parse_error(f"json: cannot unmarshal {type(id_).__name__} into a JSON-RPC id")))
            return
        if id_ is None:
            return  # notifications are ignored
        if isinstance(id_, float):
            id_ = int(id_)
        method = req.get("method")
        from harness.model.simnet.rpc import ROUTES  # late import: rpc imports this module

        if not isinstance(method, str) or method not in ROUTES:
            conn.send(_dumps({"jsonrpc": "2.0", "id": id_, "error": {"code": -32601, "message": "Method not found"}}))
            return
        try:
            if method in WS_ONLY:
                result = self._subscription_call(conn, method, req.get("params"), id_)
                resp = {"jsonrpc": "2.0", "id": id_, "result": result}
            else:
                resp = self.call(method, req.get("params"), id_)
        except _WsError as e:
            resp = {"jsonrpc": "2.0", "id": id_, "error": {"code": -32603, "message": "Internal error", "data": str(e)}}
        except Exception as e:
            log.exception("websocket %s failed", method)
            resp = {"jsonrpc": "2.0", "id": -1, "error": {"code": -32603, "message": "Internal error", "data": f"WSJSONRPC: {e}"}}
        conn.send(_dumps(resp))

    def _subscription_call(self, conn: WsConn, method: str, params: Any, id_: Any) -> dict[str, Any]:
        if method == "unsubscribe_all":
            if not conn.subs:
                raise _WsError("subscription not found")
            conn.subs.clear()
            return {}
        if isinstance(params, list) and len(params) == 1:
            text = params[0]
        elif isinstance(params, dict):
            text = params.get("query")
        else:
            raise _WsError(
                f'error converting json params to arguments: expected [query] or {{"query": ...}}, got {_dumps(params)}'
            )
        if not isinstance(text, str):
            raise _WsError(f"error converting json params to arguments: query must be a string, got {_dumps(text)}")
        if len(text.encode()) > MAX_QUERY_BYTES:
            raise _WsError("maximum query length exceeded")
        try:
            query = parse_query(text)
        except QueryParseError as e:
            raise _WsError(f"failed to parse query: {e}") from None
        key = query.canonical
        if method == "unsubscribe":
            if conn.subs.pop(key, None) is None:
                raise _WsError("subscription not found")
            return {}
        if key in conn.subs:
            raise _WsError("already subscribed")
        if len(conn.subs) >= MAX_SUBS_PER_CLIENT:
            raise _WsError(f"max_subscriptions_per_client {MAX_SUBS_PER_CLIENT} reached")
        if not conn.subs and sum(1 for c in self.conns if c.subs) >= MAX_CLIENTS:
            raise _WsError(f"max_subscription_clients {MAX_CLIENTS} reached")
        conn.subs[key] = Subscription(query, _dumps(id_), _dumps(text))
        return {}

    # -- events --------------------------------------------------------------------------
    def on_block(self, block: enc.Block) -> None:
        targets = [c for c in self.conns if c.subs]
        if not targets:
            return
        events: list[tuple[dict[str, list[str]], Callable[[], str]]] = []
        nb_events = enc.events_map("NewBlock", block.finalize_events)
        events.append((nb_events, _lazy(lambda: _new_block_data(block))))
        for i, (raw, res) in enumerate(zip(block.txs, block.results, strict=True)):
            tx_events = enc.events_map("Tx", res.events)
            tx_events["tx.hash"] = [enc.hexu(hashlib.sha256(raw).digest())]
            tx_events["tx.height"] = [str(block.height)]
            events.append((tx_events, _lazy(lambda raw=raw, res=res, i=i: _tx_data(block.height, i, raw, res))))
        for emap, data in events:
            ejson: str | None = None
            for conn in targets:
                for sub in list(conn.subs.values()):
                    if not sub.query.matches(emap):
                        continue
                    if ejson is None:
                        ejson = _dumps(emap)
                    self._deliver(conn, sub, data(), ejson)

    def _deliver(self, conn: WsConn, sub: Subscription, data: str, ejson: str) -> None:
        if conn.pending_events >= MAX_PENDING_EVENTS:
            reason = "internal subscription event buffer is out of capacity"
            for s in list(conn.subs.values()):
                err = {"code": -32000, "message": "Server error", "data": f"subscription was canceled (reason: {reason})"}
                conn.send(f'{{"jsonrpc":"2.0","id":{s.id_json},"error":{_dumps(err)}}}')
            conn.subs.clear()
            return
        conn.send(
            f'{{"jsonrpc":"2.0","id":{sub.id_json},"result":{{"query":{sub.query_json},"data":{data},"events":{ejson}}}}}',
            event=True,
        )


class _WsError(Exception):
    pass


def _parse_error(detail: str) -> dict[str, Any]:
    return {
        "jsonrpc": "2.0",
        "error": {"code": -32700, "message": "Parse error. Invalid JSON", "data": f"error unmarshaling request: {detail}"},
    }


def _lazy(make: Callable[[], str]) -> Callable[[], str]:
    cache: list[str] = []

    def get() -> str:
        if not cache:
            cache.append(make())
        return cache[0]

    return get


def _new_block_data(block: enc.Block) -> str:
    value = {"block": block.json, "block_id": block.block_id, "result_finalize_block": enc.finalize_block_json(block)}
    return _dumps({"type": "tendermint/event/NewBlock", "value": value})


def _tx_data(height: int, index: int, raw: bytes, res: Any) -> str:
    tx_result: dict[str, Any] = {"height": str(height)}
    if index:
        tx_result["index"] = index
    tx_result["tx"] = enc.b64(raw)
    tx_result["result"] = enc.result_omitempty(res)
    return _dumps({"type": "tendermint/event/Tx", "value": {"TxResult": tx_result}})
