"""CometBFT 0.38 JSON-RPC server for simnet (aiohttp): POST JSON-RPC (single and batch), GET/POST URI form,
and /websocket with subscriptions. Envelope, id, error-code and HTTP-status rules are CometBFT's: parse errors
are HTTP 500 with a JSON-RPC -32700 body (no id), as a real node answers; a body over 1,000,000 bytes or nested
deeper than 64 levels is HTTP 400 with -32600. No input produces a traceback or a non-JSON answer.
"""

from __future__ import annotations

import inspect
import logging
import time
from collections.abc import Callable
from typing import Any

from aiohttp import WSMsgType, web

from harness.model.simnet.methods import Methods
from harness.model.simnet.node import MethodError, Node
from harness.model.simnet.rpc_params import (
    CACHEABLE_ALWAYS,
    CACHEABLE_WITH_HEIGHT,
    MAX_BATCH,
    MAX_BODY_BYTES,
    ROUTES,
    WS_ONLY,
    ParamError,
    RpcRefusal,
    check_request,
    convert_json_params,
    convert_uri_params,
    dumps,
    error_obj,
    parse_json,
    read_id,
    refusal_obj,
)
from harness.model.simnet.subscriptions import Hub, WsConn

log = logging.getLogger("harness.model.simnet.rpc")
Reply = tuple[dict[str, Any], int, bool]  # (response object, HTTP status, cacheable)


class RpcServer:
    def __init__(self, node: Node) -> None:
        self.node = node
        self.impl = Methods(node)
        self.methods: dict[str, Callable[..., Any]] = {name: getattr(self.impl, name) for name in ROUTES if name not in WS_ONLY}
        self.hub = Hub(node, self.call_ws)
        self.app = web.Application(client_max_size=MAX_BODY_BYTES)
        self.app.router.add_route("*", "/websocket", self.websocket)
        self.app.router.add_route("*", "/", self.root)
        self.app.router.add_route("*", "/{method}", self.uri)
        self.app.router.add_route("*", "/{tail:.*}", self.not_found)

    # -- HTTP ----------------------------------------------------------------------------
    def _response(self, body: str, status: int = 200, cache: bool = False) -> web.Response:
        headers = {"X-Server-Time": str(int(time.time()))}
        if cache:
            headers["Cache-Control"] = "public, max-age=86400"
        headers["Content-Type"] = "application/json"
        return web.Response(body=body.encode(), status=status, headers=headers)

    async def root(self, request: web.Request) -> web.StreamResponse:
        if request.method != "POST":
            links = "".join(f'<a href="//{request.host}/{m}">//{request.host}/{m}</a></br>' for m in ROUTES if m not in WS_ONLY)
            return web.Response(text=f"<html><body><br>Available endpoints:<br>{links}</body></html>", content_type="text/html")
        try:
            raw = await request.read()
        except web.HTTPRequestEntityTooLarge:
            data = "error reading request body: http: request body too large"
            return self._response(dumps(error_obj(-32600, "Invalid Request", data, has_id=False)), 400)
        try:
            items = self._parse_body(raw)
        except RpcRefusal as e:
            return self._response(dumps(refusal_obj(e)), e.http_status)
        responses, status, cache = [], 200, False
        for r, is_request, id_ in items:
            if not is_request:
                continue  # notification: not executed, no response
            resp, st, cache = await self._dispatch_http(r, id_)
            status = max(status, st)
            responses.append(resp)
        if not responses:
            return web.Response(status=200, headers={"X-Server-Time": str(int(time.time()))})
        body = responses[0] if len(responses) == 1 else responses
        return self._response(dumps(body), status, cache and len(responses) == 1)

    def _parse_body(self, raw: bytes) -> list[tuple[dict[str, Any], bool, Any]]:
        parsed = parse_json(raw)
        reqs = parsed if isinstance(parsed, list) else [parsed]
        if isinstance(parsed, list) and len(reqs) > MAX_BATCH:
            data = f"batch request exceeds maximum ({MAX_BATCH}) allowed number of requests"
            raise RpcRefusal(-32600, "Invalid Request", data, http_status=200)
        items = []
        for r in reqs:
            check_request(r)
            items.append((r, *read_id(r)))
        return items

    async def _dispatch_http(self, req: dict[str, Any], id_: Any) -> Reply:
        method = req.get("method") or ""
        if method not in self.methods:
            return error_obj(-32601, "Method not found", id_=id_), 200, False
        try:
            args = convert_json_params(method, req.get("params"))
        except ParamError as e:
            return error_obj(-32602, "Invalid params", f"error converting json params to arguments: {e}", id_=id_), 200, False
        return await self._call(method, args, id_)

    async def _call(self, method: str, args: dict[str, Any], id_: Any) -> Reply:
        try:
            result = self.methods[method](**args)
            if inspect.isawaitable(result):
                result = await result
        except MethodError as e:
            return error_obj(-32603, "Internal error", str(e), id_=id_), 200, False
        except Exception as e:  # a handler bug answers like a Go panic (500), the server keeps serving
            log.exception("simnet %s failed", method)
            return (
                error_obj(-32603, "Internal error", f"panic in {method}: {type(e).__name__}: {str(e)[:200]}", id_=-1),
                500,
                False,
            )
        cache = method in CACHEABLE_ALWAYS or (method in CACHEABLE_WITH_HEIGHT and bool(args.get("height")))
        return {"jsonrpc": "2.0", "id": id_, "result": result}, 200, cache

    async def not_found(self, request: web.Request) -> web.StreamResponse:
        return web.Response(text="404 page not found", status=404, content_type="text/plain")

    async def uri(self, request: web.Request) -> web.StreamResponse:
        method = request.match_info["method"]
        if method not in ROUTES:
            return web.Response(text="404 page not found", status=404, content_type="text/plain")
        if method in WS_ONLY:
            return self._response(dumps(error_obj(-32601, "Method not found", id_=-1)), 404)
        try:
            args = convert_uri_params(method, request.query)
        except ParamError as e:
            body = error_obj(-32602, "Invalid params", f"error converting http params to arguments: {e}", id_=-1)
            return self._response(dumps(body), 500)
        resp, status, cache = await self._call(method, args, -1)
        return self._response(dumps(resp), 500 if "error" in resp else status, cache)

    # -- websocket -----------------------------------------------------------------------
    async def call_ws(self, method: str, params: Any, id_: Any) -> dict[str, Any]:
        """Non-subscription methods over the websocket (bad params are -32603 there)."""
        try:
            args = convert_json_params(method, params)
        except ParamError as e:
            return error_obj(-32603, "Internal error", f"error converting json params to arguments: {e}", id_=id_)
        return (await self._call(method, args, id_))[0]

    async def websocket(self, request: web.Request) -> web.StreamResponse:
        ws = web.WebSocketResponse(heartbeat=27.0, max_msg_size=MAX_BODY_BYTES, autoping=True)
        if not ws.can_prepare(request).ok:
            return web.Response(text="Bad Request", status=400)
        await ws.prepare(request)
        conn = WsConn(ws, request.remote or "")
        self.hub.attach(conn)
        try:
            async for msg in ws:
                if msg.type in (WSMsgType.TEXT, WSMsgType.BINARY):
                    data = msg.data if isinstance(msg.data, str) else msg.data.decode("utf-8", "replace")
                    await self.hub.handle_frame(conn, data)
                elif msg.type == WSMsgType.ERROR:
                    break
        except Exception as e:  # an abrupt client close must never disturb the server
            log.debug("websocket %s ended: %s", conn.remote, e)
        finally:
            await self.hub.detach(conn)
        return ws
