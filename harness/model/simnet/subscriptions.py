"""Websocket connections and event subscriptions: subscribe/unsubscribe/unsubscribe_all, and the per-block
fan-out, in CometBFT's order, of NewBlock, NewBlockHeader, NewBlockEvents and Tx events as JSON-RPC responses
carrying the subscription's id (same JSON type) and the query string exactly as sent.

A query naming an event type simnet never emits (the consensus-round events: NewRound, Vote, Polka, ...) is
refused with an error naming what it emits, never accepted and then silent. NewEvidence and ValidatorSetUpdates
are accepted: simnet's validators never misbehave and never change, so, as on such a real chain, they stay
silent. Each connection has a writer task; a dead or slow client only loses its own subscriptions.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from harness.model.simnet import encoding as enc
from harness.model.simnet.node import Node
from harness.model.simnet.query import MAX_QUERY_BYTES, Query, QueryParseError, parse_query
from harness.model.simnet.rpc_params import (
    ROUTES,
    WS_ONLY,
    RpcRefusal,
    check_request,
    dumps,
    error_obj,
    parse_error,
    parse_json,
    read_id,
    refusal_obj,
)

log = logging.getLogger("harness.model.simnet.ws")

EMITTED = ("NewBlock", "NewBlockHeader", "NewBlockEvents", "Tx")
SILENT = ("NewEvidence", "ValidatorSetUpdates")  # emitted only by misbehaviour or validator changes: never here
CONSENSUS_EVENTS = (
    "CompleteProposal",
    "Lock",
    "NewRound",
    "NewRoundStep",
    "Polka",
    "Relock",
    "TimeoutPropose",
    "TimeoutWait",
    "Unlock",
    "ValidBlock",
    "Vote",
)
MAX_SUBS_PER_CLIENT = 5
MAX_CLIENTS = 100
MAX_PENDING_EVENTS = 1000


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
    async def handle_frame(self, conn: WsConn, data: str) -> None:
        """One request frame; every malformed frame gets its JSON-RPC error and the connection keeps its subscriptions."""
        try:
            req = parse_json(data)
            if isinstance(req, list):
                raise parse_error("json: cannot unmarshal array into a request object (no batches over the websocket)")
            check_request(req)
            is_request, id_ = read_id(req)
        except RpcRefusal as e:
            conn.send(dumps(refusal_obj(e)))
            return
        if not is_request:
            return  # notifications are ignored
        method = req.get("method")
        if not isinstance(method, str) or method not in ROUTES:
            conn.send(dumps(error_obj(-32601, "Method not found", id_=id_)))
            return
        try:
            if method in WS_ONLY:
                result = self._subscription_call(conn, method, req.get("params"), id_)
                resp = {"jsonrpc": "2.0", "id": id_, "result": result}
            else:
                resp = await self.call(method, req.get("params"), id_)
        except _WsError as e:
            resp = error_obj(-32603, "Internal error", str(e), id_=id_)
        except Exception as e:
            log.exception("websocket %s failed", method)
            resp = error_obj(-32603, "Internal error", f"WSJSONRPC: {type(e).__name__}: {str(e)[:200]}", id_=-1)
        conn.send(dumps(resp))

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
                f'error converting json params to arguments: expected [query] or {{"query": ...}}, got {dumps(params)}'
            )
        if not isinstance(text, str):
            raise _WsError(f"error converting json params to arguments: query must be a string, got {dumps(text)}")
        if len(text.encode()) > MAX_QUERY_BYTES:
            raise _WsError("maximum query length exceeded")
        try:
            query = parse_query(text)
        except QueryParseError as e:
            raise _WsError(f"failed to parse query: {e}") from None
        key = query.canonical
        if method == "subscribe":
            check_servable(query)
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
        conn.subs[key] = Subscription(query, dumps(id_), dumps(text))
        return {}

    # -- events --------------------------------------------------------------------------
    def on_block(self, block: enc.Block) -> None:
        targets = [c for c in self.conns if c.subs]
        if not targets:
            return
        for emap, data in _block_events(block):
            ejson: str | None = None
            for conn in targets:
                for sub in list(conn.subs.values()):
                    if not sub.query.matches(emap):
                        continue
                    if ejson is None:
                        ejson = dumps(emap)
                    self._deliver(conn, sub, data(), ejson)

    def _deliver(self, conn: WsConn, sub: Subscription, data: str, ejson: str) -> None:
        if conn.pending_events >= MAX_PENDING_EVENTS:
            reason = "internal subscription event buffer is out of capacity"
            for s in list(conn.subs.values()):
                err = {"code": -32000, "message": "Server error", "data": f"subscription was canceled (reason: {reason})"}
                conn.send(f'{{"jsonrpc":"2.0","id":{s.id_json},"error":{dumps(err)}}}')
            conn.subs.clear()
            return
        conn.send(
            f'{{"jsonrpc":"2.0","id":{sub.id_json},"result":{{"query":{sub.query_json},"data":{data},"events":{ejson}}}}}',
            event=True,
        )


class _WsError(Exception):
    pass


def check_servable(query: Query) -> None:
    """Refuse a query whose tm.event names an event simnet never emits (it would be accepted and then silent)."""
    for c in query.conditions:
        if c.tag != "tm.event" or c.op != "=":
            continue
        if c.arg in EMITTED or c.arg in SILENT:
            continue
        why = (
            "a consensus-round event; simnet runs no consensus rounds"
            if c.arg in CONSENSUS_EVENTS
            else "not a CometBFT event type"
        )
        raise _WsError(
            f"simnet cannot serve tm.event='{c.arg[:60]}' ({why}); it emits {', '.join(EMITTED)} "
            f"(and never {' or '.join(SILENT)}: its validators never misbehave or change)"
        )


def _lazy(make: Callable[[], str]) -> Callable[[], str]:
    cache: list[str] = []

    def get() -> str:
        if not cache:
            cache.append(make())
        return cache[0]

    return get


def _block_events(block: enc.Block) -> list[tuple[dict[str, list[str]], Callable[[], str]]]:
    """(event map, lazily built data) per event of a committed block, in CometBFT's order."""
    out: list[tuple[dict[str, list[str]], Callable[[], str]]] = [
        (enc.events_map("NewBlock", block.finalize_events), _lazy(lambda: _new_block_data(block))),
        ({"tm.event": ["NewBlockHeader"]}, _lazy(lambda: _typed("NewBlockHeader", {"header": block.json["header"]}))),
        (enc.events_map("NewBlockEvents", block.finalize_events), _lazy(lambda: _new_block_events_data(block))),
    ]
    for i, (raw, res) in enumerate(zip(block.txs, block.results, strict=True)):
        tx_events = enc.events_map("Tx", res.events)
        tx_events["tx.hash"] = [enc.hexu(hashlib.sha256(raw).digest())]
        tx_events["tx.height"] = [str(block.height)]
        out.append((tx_events, _lazy(lambda raw=raw, res=res, i=i: _tx_data(block.height, i, raw, res))))
    return out


def _typed(kind: str, value: dict[str, Any]) -> str:
    return dumps({"type": f"tendermint/event/{kind}", "value": value})


def _new_block_events_data(block: enc.Block) -> str:
    events = [enc.event_json(e) for e in block.finalize_events] or None
    return _typed("NewBlockEvents", {"height": str(block.height), "events": events, "num_txs": str(len(block.txs))})


def _new_block_data(block: enc.Block) -> str:
    value = {"block": block.json, "block_id": block.block_id, "result_finalize_block": enc.finalize_block_json(block)}
    return dumps({"type": "tendermint/event/NewBlock", "value": value})


def _tx_data(height: int, index: int, raw: bytes, res: Any) -> str:
    tx_result: dict[str, Any] = {"height": str(height)}
    if index:
        tx_result["index"] = index
    tx_result["tx"] = enc.b64(raw)
    tx_result["result"] = enc.result_omitempty(res)
    return dumps({"type": "tendermint/event/Tx", "value": {"TxResult": tx_result}})
