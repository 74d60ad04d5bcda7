"""A small real upstream for the proxy's self-tests and benchmark: an aiohttp server on 127.0.0.1:0 that answers
CometBFT-shaped JSON-RPC (single and batch POST, `GET /status`) and serves `/websocket` with NewBlock events.

    with RpcUpstream() as up:
        up.url            # http://127.0.0.1:PORT
        up.new_block(5)   # push a NewBlock event for height 5 to every subscribed websocket
"""

from __future__ import annotations

import asyncio
import json
from typing import Any, Self

from aiohttp import WSMsgType, web

from harness.util.loop import BackgroundLoop
from harness.util.ports import LOOPBACK


class RpcUpstream:
    def __init__(self) -> None:
        self.height = 1
        self.calls: list[str] = []
        self._bg: BackgroundLoop | None = None
        self._runner: web.AppRunner | None = None
        self._sockets: set[web.WebSocketResponse] = set()
        self.port = 0

    def start(self) -> Self:
        self._bg = BackgroundLoop("rpc-upstream")
        self._bg.run(self._astart())
        return self

    async def _astart(self) -> None:
        app = web.Application()
        app.router.add_post("/", self._post)
        app.router.add_get("/websocket", self._websocket)
        app.router.add_get("/{method}", self._get)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, LOOPBACK, 0)
        await site.start()
        self.port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]

    def stop(self) -> None:
        if self._bg is None:
            return
        self._bg.run(self._astop())
        self._bg.close()
        self._bg = None

    async def _astop(self) -> None:
        for ws in list(self._sockets):
            await ws.close()
        if self._runner is not None:
            await self._runner.cleanup()

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def url(self) -> str:
        return f"http://{LOOPBACK}:{self.port}"

    # -- JSON-RPC ------------------------------------------------------------------------------------
    def _answer(self, doc: Any) -> dict[str, Any]:
        method = doc.get("method") if isinstance(doc, dict) else None
        self.calls.append(str(method))
        rid = doc.get("id", -1) if isinstance(doc, dict) else -1
        if method == "status":
            result: Any = {"node_info": {"network": "gonka-test"}, "sync_info": {"latest_block_height": str(self.height)}}
        elif method == "abci_query":
            result = {"response": {"code": 0, "log": "", "value": "", "height": str(self.height)}}
        else:
            result = {"echo": method}
        return {"jsonrpc": "2.0", "id": rid, "result": result}

    async def _post(self, request: web.Request) -> web.Response:
        doc = json.loads(await request.read())
        out = [self._answer(d) for d in doc] if isinstance(doc, list) else self._answer(doc)
        return web.json_response(out)

    async def _get(self, request: web.Request) -> web.Response:
        return web.json_response(self._answer({"method": request.match_info["method"], "id": -1}))

    async def _websocket(self, request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        self._sockets.add(ws)
        try:
            async for msg in ws:
                if msg.type == WSMsgType.TEXT:
                    doc = json.loads(msg.data)
                    await ws.send_json({"jsonrpc": "2.0", "id": doc.get("id"), "result": {}})
        finally:
            self._sockets.discard(ws)
        return ws

    def new_block(self, height: int) -> None:
        """Send a NewBlock event to every open websocket."""
        self.height = height
        assert self._bg is not None
        self._bg.run(self._broadcast(height))

    async def _broadcast(self, height: int) -> None:
        event = {
            "jsonrpc": "2.0",
            "id": "1",
            "result": {
                "query": "tm.event='NewBlock'",
                "data": {"type": "tendermint/event/NewBlock", "value": {"block": {"header": {"height": str(height)}}}},
                "events": {},
            },
        }
        await asyncio.gather(*(ws.send_json(event) for ws in list(self._sockets)), return_exceptions=True)
