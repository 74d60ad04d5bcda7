"""The unit tests' one CometBFT fake: a small real server on 127.0.0.1:0 speaking CometBFT 0.38's JSON-RPC (POST /)
and its /websocket NewBlock subscription, with Gonka's partial-upgrade EndBlock rules (an upgrade to V stored for
height H makes V the MLNode version at H; entries below the current height are deleted) and the ABCI queries the API
node makes of them.

Controlled from the test's thread: `produce()` makes blocks (announced to every subscriber unless told not to),
`drop_websockets()` aborts every subscriber's TCP connection (the client sees 1006), `methods` answers or replaces
any JSON-RPC method, `raw_reply` replaces the whole answer, `ws_refuse` refuses websocket upgrades.
It runs on its own BackgroundLoop or on one the test shares with its other fakes (`loop=`)."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import time
from collections.abc import Callable
from typing import Any

from aiohttp import WSMsgType, web

from harness import proto
from harness.util.loop import BackgroundLoop

BASE_S = 1_740_830_400  # block 0's header time: 2025-03-01T12:00:00Z


def rfc3339(ns: int) -> str:
    s, frac = divmod(ns, 1_000_000_000)
    text = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(s))
    return text + (f".{frac:09d}".rstrip("0") if frac else "") + "Z"


def abci_value(msg: Any) -> dict[str, Any]:
    return {"response": {"code": 0, "log": "", "value": base64.b64encode(msg.SerializeToString()).decode(), "height": "0"}}


class Fault(Exception):
    """Raised by a `methods` entry: answered as a JSON-RPC error."""

    def __init__(self, code: int, msg: str, data: str = "") -> None:
        self.code, self.msg, self.data = code, msg, data


class FakeCometBFT:
    def __init__(
        self, height: int = 10, block_interval_ms: int = 100, *, version: str = "v0.3.8", loop: BackgroundLoop | None = None
    ) -> None:
        self.height = height
        self.block_interval_ms = block_interval_ms
        self.held_ms: dict[int, int] = {}  # height -> how much later than the interval that block came
        self.version = version  # the chain's MLNodeVersion
        self.upgrades: dict[int, str] = {}  # stored partial upgrades: height -> node version
        self.requests: list[dict] = []  # every JSON-RPC request body
        self.frames: list[str] = []  # every websocket text frame received, as sent
        self.raw_reply: Callable[[dict], web.Response] | None = None
        self.ws_refuse = False
        self._ws: dict[web.WebSocketResponse, tuple[web.Request, Any, str]] = {}
        self.methods: dict[str, Callable[[dict], Any]] = {
            "health": lambda p: {},
            "status": lambda p: {
                "node_info": {"network": "gonka-testnet", "version": "0.38.17"},
                "sync_info": {
                    "latest_block_height": str(self.height),
                    "latest_block_time": self.time_of(self.height),
                    "catching_up": False,
                },
            },
            "block": self._block,
            "blockchain": self._blockchain,
            "abci_query": lambda p: self._query(p["path"]),
        }
        self._own_loop = loop is None
        self.loop = loop or BackgroundLoop("fake-cometbft")
        self.runner: web.AppRunner | None = None
        self.port = 0
        self.url = ""

    # -- the chain ---------------------------------------------------------------------------------------------------

    def time_of(self, h: int) -> str:
        held = sum(ms for hh, ms in self.held_ms.items() if hh <= h)
        return rfc3339(BASE_S * 1_000_000_000 + (h * self.block_interval_ms + held) * 1_000_000)

    def _block(self, p: dict) -> dict:
        h = int(p.get("height") or self.height)
        if h > self.height:
            raise Fault(
                -32603, "Internal error", f"height {h} must be less than or equal to the current blockchain height {self.height}"
            )
        return {
            "block_id": {"hash": f"{h:064X}"},
            "block": {"header": {"height": str(h), "time": self.time_of(h)}, "data": {"txs": []}},
        }

    def _blockchain(self, p: dict) -> dict:
        """At most 20 block metas, newest first."""
        hi = min(int(p.get("maxHeight") or self.height), self.height)
        lo = max(int(p.get("minHeight") or 1), hi - 19, 1)
        metas = [{"header": {"height": str(h), "time": self.time_of(h)}} for h in range(hi, lo - 1, -1)]
        return {"last_height": str(self.height), "block_metas": metas}

    def _query(self, path: str) -> dict[str, Any]:
        if path == proto.Q_PARTIAL_UPGRADE_ALL:
            resp = proto.inference_pb2.QueryAllPartialUpgradeResponse()
            for h, v in sorted(self.upgrades.items()):
                resp.partialUpgrade.add(height=h, node_version=v, name=f"PartialUpgrade at height {h} for node version {v}")
            return abci_value(resp)
        if path == proto.Q_MLNODE_VERSION:
            resp = proto.inference_pb2.QueryGetMLNodeVersionResponse()
            resp.mlnode_version.current_version = self.version
            return abci_value(resp)
        if path == proto.Q_UPGRADE_CURRENT_PLAN:
            return abci_value(proto.upgrade_query_pb2.QueryCurrentPlanResponse())
        return {"response": {"code": 1, "log": f"unknown path {path}", "value": None, "codespace": "sdk"}}

    def _end_block(self, h: int) -> None:
        for uh, v in list(self.upgrades.items()):
            if uh == h:
                self.version = v
            elif uh < h:
                del self.upgrades[uh]

    # -- the server --------------------------------------------------------------------------------------------------

    async def _post(self, request: web.Request) -> web.Response:
        body = await request.json()
        self.requests.append(body)
        if self.raw_reply is not None:
            return self.raw_reply(body)
        fn = self.methods.get(body["method"])
        if fn is None:
            return web.json_response(
                {"jsonrpc": "2.0", "id": body["id"], "error": {"code": -32601, "message": "Method not found"}}
            )
        try:
            return web.json_response({"jsonrpc": "2.0", "id": body["id"], "result": fn(body.get("params") or {})})
        except Fault as f:
            return web.json_response(
                {"jsonrpc": "2.0", "id": body["id"], "error": {"code": f.code, "message": f.msg, "data": f.data}}
            )

    async def _websocket(self, request: web.Request) -> web.StreamResponse:
        if self.ws_refuse:
            return web.Response(status=503, text="not now")
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        async for msg in ws:
            if msg.type != WSMsgType.TEXT:
                continue
            self.frames.append(msg.data)
            req = json.loads(msg.data)
            params = req.get("params") or {}
            if req.get("method") == "subscribe":
                query = params["query"] if isinstance(params, dict) else params[0]
                self._ws[ws] = (request, req["id"], query)
            await ws.send_str(json.dumps({"jsonrpc": "2.0", "id": req.get("id"), "result": {}}))
        self._ws.pop(ws, None)
        return ws

    async def _announce(self, h: int) -> None:
        block = self._block({"height": str(h)})
        for ws, (_req, sub_id, query) in list(self._ws.items()):
            event = {"query": query, "data": {"type": "tendermint/event/NewBlock", "value": block},
                     "events": {"tm.event": ["NewBlock"]}}  # fmt: skip
            with contextlib.suppress(Exception):
                await ws.send_str(json.dumps({"jsonrpc": "2.0", "id": sub_id, "result": event}))

    async def _produce(self, n: int, announce: bool) -> None:
        for _ in range(n):
            self.height += 1
            self._end_block(self.height)
            if announce:
                await self._announce(self.height)

    async def autoblocks(self, interval_s: float, count: int) -> None:
        """Produce `count` blocks, one every interval_s (a block clock, bounded); run it with `loop.submit`."""
        for _ in range(count):
            await asyncio.sleep(interval_s)
            await self._produce(1, True)

    # -- control from the test thread --------------------------------------------------------------------------------

    def start(self) -> FakeCometBFT:
        app = web.Application()
        app.router.add_post("/", self._post)
        app.router.add_get("/websocket", self._websocket)

        async def up() -> int:
            self.runner = web.AppRunner(app, access_log=None)
            await self.runner.setup()
            site = web.TCPSite(self.runner, "127.0.0.1", 0)
            await site.start()
            return site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]

        self.port = self.loop.run(up())
        self.url = f"http://127.0.0.1:{self.port}"
        return self

    def stop(self) -> None:
        self.drop_websockets()
        if self.runner is not None:
            self.loop.run(self.runner.cleanup())
            self.runner = None
        if self._own_loop:
            self.loop.close()

    def produce(self, n: int = 1, *, announce: bool = True) -> None:
        """n more blocks, each through EndBlock's partial-upgrade rules; announced on every subscription unless
        `announce=False` (blocks made while the subscribers are away)."""
        self.loop.run(self._produce(n, announce))

    def drop_websockets(self) -> int:
        """Abort every websocket's TCP connection (no close frame: the client sees 1006)."""

        async def drop() -> int:
            conns = list(self._ws.items())
            for _ws, (req, _id, _q) in conns:
                if req.transport is not None:
                    req.transport.abort()
            self._ws.clear()
            return len(conns)

        return self.loop.run(drop())

    def subscribers(self) -> int:
        return len(self._ws)
