"""CometBFT 0.38 JSON-RPC server for simnet (aiohttp): POST JSON-RPC (single and batch), GET/POST URI form,
and /websocket with subscriptions. Envelope, id, error-code and HTTP-status rules as
reference/cometbft-rpc-shapes.md sections 1, 2 and 5.
"""

from __future__ import annotations

import base64
import binascii
import json
import logging
import time
from collections.abc import Callable
from typing import Any

from aiohttp import WSMsgType, web

from harness.model.simnet.node import MethodError, Node
from harness.model.simnet.subscriptions import WS_ONLY, Hub, WsConn

log = logging.getLogger("harness.model.simnet.rpc")

MAX_BODY_BYTES = 1_000_000
MAX_BATCH = 10
# method -> [(param name, kind)] in route order; kinds: int (int64), bytes (base64 []byte), hex (HexBytes), str, bool
ROUTES: dict[str, list[tuple[str, str]]] = {
    "health": [],
    "status": [],
    "abci_query": [("path", "str"), ("data", "hex"), ("height", "int"), ("prove", "bool")],
    "broadcast_tx_sync": [("tx", "bytes")],
    "broadcast_tx_async": [("tx", "bytes")],
    "tx": [("hash", "bytes"), ("prove", "bool")],
    "block": [("height", "int")],
    "validators": [("height", "int"), ("page", "int"), ("per_page", "int")],
    "subscribe": [("query", "str")],
    "unsubscribe": [("query", "str")],
    "unsubscribe_all": [],
}
CACHEABLE_WITH_HEIGHT = {"block", "validators"}
CACHEABLE_ALWAYS = {"tx"}


class ParamError(Exception):
    pass


class BadId(Exception):
    pass


def dumps(obj: Any) -> str:
    return json.dumps(obj, separators=(",", ":"), ensure_ascii=False)


def error_obj(code: int, message: str, data: str = "", *, id_: Any = None, has_id: bool = True) -> dict[str, Any]:
    err: dict[str, Any] = {"code": code, "message": message}
    if data:
        err["data"] = data
    out: dict[str, Any] = {"jsonrpc": "2.0"}
    if has_id:
        out["id"] = id_
    out["error"] = err
    return out


def parse_error(data: str) -> dict[str, Any]:
    return error_obj(-32700, "Parse error. Invalid JSON", f"error unmarshaling request: {data}", has_id=False)


def read_id(req: dict[str, Any]) -> tuple[bool, Any]:
    """(is_request, id): strings stay strings, numbers become integers (fraction dropped); null/absent = notification."""
    if "id" not in req or req["id"] is None:
        return False, None
    v = req["id"]
    if isinstance(v, bool) or not isinstance(v, int | float | str):
        raise BadId(f"json: cannot unmarshal {type(v).__name__} into a JSON-RPC id (want string or number)")
    return True, int(v) if isinstance(v, float) else v


def _json_arg(kind: str, name: str, v: Any) -> Any:
    if v is None:
        return None
    if kind == "int":
        if not isinstance(v, str):
            raise ParamError(f'{name}: invalid 64-bit integer encoding "{dumps(v)}", expected string')
        try:
            return int(v)
        except ValueError:
            raise ParamError(f'{name}: strconv.ParseInt: parsing "{v}": invalid syntax') from None
    if kind == "bytes":
        if not isinstance(v, str):
            raise ParamError(f"{name}: expected a base64 string, got {dumps(v)}")
        try:
            return base64.b64decode(v, validate=True)
        except (binascii.Error, ValueError) as e:
            raise ParamError(f"{name}: illegal base64 data: {e}") from None
    if kind == "hex":
        if not isinstance(v, str):
            raise ParamError(f"{name}: expected a hex string, got {dumps(v)}")
        try:
            return bytes.fromhex(v)
        except ValueError as e:
            raise ParamError(f"{name}: encoding/hex: {e}") from None
    if kind == "bool":
        if not isinstance(v, bool):
            raise ParamError(f"{name}: expected true or false, got {dumps(v)}")
        return v
    if not isinstance(v, str):
        raise ParamError(f"{name}: expected a string, got {dumps(v)}")
    return v


def convert_json_params(method: str, params: Any) -> dict[str, Any]:
    spec = ROUTES[method]
    if params is None or params == {} or params == []:
        return {}
    if isinstance(params, dict):
        return {name: _json_arg(kind, name, params.get(name)) for name, kind in spec if params.get(name) is not None}
    if isinstance(params, list):
        if len(params) != len(spec):
            raise ParamError(f"expected {len(spec)} parameters ({', '.join(n for n, _ in spec)}), got {len(params)}")
        return {name: _json_arg(kind, name, v) for (name, kind), v in zip(spec, params, strict=True) if v is not None}
    raise ParamError(f"params must be an object or an array, got {dumps(params)}")


def _uri_arg(kind: str, name: str, v: str) -> Any:
    if kind == "int":
        if v.startswith("0x"):
            raise ParamError(f"{name}: got a hex string arg, but expected 'int64'")
        try:
            return int(v[1:-1] if len(v) >= 2 and v[0] == v[-1] == '"' else v)
        except ValueError:
            raise ParamError(f'{name}: strconv.ParseInt: parsing "{v}": invalid syntax') from None
    if kind == "bool":
        if v not in ("true", "false"):
            raise ParamError(f"{name}: expected true or false, got {v!r}")
        return v == "true"
    if v.startswith("0x"):
        try:
            raw = bytes.fromhex(v[2:])
        except ValueError as e:
            raise ParamError(f"{name}: encoding/hex: {e}") from None
        return raw.decode("utf-8", "replace") if kind == "str" else raw
    if len(v) >= 2 and v[0] == v[-1] == '"':
        return json.loads(v) if kind == "str" else v[1:-1].encode()
    raise ParamError(f'{name}: invalid value {v!r}: quote strings (name="value") or give bytes as 0x-prefixed hex')


def convert_uri_params(method: str, query: Any) -> dict[str, Any]:
    return {name: _uri_arg(kind, name, query[name]) for name, kind in ROUTES[method] if query.get(name)}


class RpcServer:
    def __init__(self, node: Node) -> None:
        self.node = node
        self.hub = Hub(node, self.call_ws)
        self.app = web.Application(client_max_size=MAX_BODY_BYTES)
        self.app.router.add_route("*", "/websocket", self.websocket)
        self.app.router.add_route("*", "/", self.root)
        self.app.router.add_route("*", "/{method}", self.uri)
        self.app.router.add_route("*", "/{tail:.*}", self.not_found)
        self.methods: dict[str, Callable[..., dict[str, Any]]] = {
            name: getattr(node, name) for name in ROUTES if name not in WS_ONLY and name != "broadcast_tx_async"
        }
        self.methods["broadcast_tx_async"] = node.broadcast_tx_sync

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
            body = error_obj(-32600, "Invalid Request", "error reading request body: http: request body too large", has_id=False)
            return self._response(dumps(body), 400)
        try:
            parsed = json.loads(raw)
        except (json.JSONDecodeError, UnicodeDecodeError) as e:
            return self._response(dumps(parse_error(str(e))), 500)
        batch = isinstance(parsed, list)
        reqs = parsed if batch else [parsed]
        if batch and len(reqs) > MAX_BATCH:
            data = f"batch request exceeds maximum ({MAX_BATCH}) allowed number of requests"
            return self._response(dumps(error_obj(-32600, "Invalid Request", data, has_id=False)))
        items = []
        for r in reqs:
            if not isinstance(r, dict):
                return self._response(dumps(parse_error(f"json: cannot unmarshal {type(r).__name__} into a request object")), 500)
            if "method" in r and not isinstance(r["method"], str):
                return self._response(dumps(parse_error("json: method must be a string")), 500)
            try:
                items.append((r, *read_id(r)))
            except BadId as e:
                return self._response(dumps(parse_error(str(e))), 500)
        responses, status, cache = [], 200, False
        for r, is_request, id_ in items:
            if not is_request:
                continue  # notification: not executed, no response
            resp, st, cache = self._dispatch_http(r, id_)
            status = max(status, st)
            responses.append(resp)
        if not responses:
            return web.Response(status=200, headers={"X-Server-Time": str(int(time.time()))})
        body = responses[0] if len(responses) == 1 else responses
        return self._response(dumps(body), status, cache and len(responses) == 1)

    def _dispatch_http(self, req: dict[str, Any], id_: Any) -> tuple[dict[str, Any], int, bool]:
        method = req.get("method") or ""
        if method not in self.methods:
            return error_obj(-32601, "Method not found", id_=id_), 200, False
        try:
            args = convert_json_params(method, req.get("params"))
        except ParamError as e:
            return error_obj(-32602, "Invalid params", f"error converting json params to arguments: {e}", id_=id_), 200, False
        return self._call(method, args, id_)

    def _call(self, method: str, args: dict[str, Any], id_: Any) -> tuple[dict[str, Any], int, bool]:
        try:
            result = self.methods[method](**args)
        except MethodError as e:
            return error_obj(-32603, "Internal error", str(e), id_=id_), 200, False
        except Exception as e:  # a handler bug answers like a Go panic (500), the server keeps serving
            log.exception("simnet %s failed", method)
            return error_obj(-32603, "Internal error", f"panic in {method}: {type(e).__name__}: {e}", id_=-1), 500, False
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
        resp, status, cache = self._call(method, args, -1)
        return self._response(dumps(resp), 500 if "error" in resp else status, cache)

    # -- websocket -----------------------------------------------------------------------
    def call_ws(self, method: str, params: Any, id_: Any) -> dict[str, Any]:
        """Non-subscription methods over the websocket (bad params are -32603 there)."""
        try:
            args = convert_json_params(method, params)
        except ParamError as e:
            return error_obj(-32603, "Internal error", f"error converting json params to arguments: {e}", id_=id_)
        return self._call(method, args, id_)[0]

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
                    self.hub.handle_frame(conn, data)
                elif msg.type == WSMsgType.ERROR:
                    break
        except Exception as e:  # an abrupt client close must never disturb the server
            log.debug("websocket %s ended: %s", conn.remote, e)
        finally:
            await self.hub.detach(conn)
        return ws
