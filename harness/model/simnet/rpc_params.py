"""Parsing of JSON-RPC requests for simnet, one way for HTTP and the websocket: strict JSON with limits (size,
nesting; no NaN/Infinity; numbers that fit), CometBFT's id rules, and the method argument conversions of
`libs/json` (JSON-RPC) and of the URI form. Every refusal is an `RpcRefusal` that becomes a JSON-RPC error in
CometBFT's shape; nothing here raises anything else on any input.
"""

from __future__ import annotations

import base64
import binascii
import json
import math
import re
from typing import Any

from harness.model.simnet.numbers import INT64_MAX, INT64_MIN, IntSyntaxError, parse_int64

MAX_BODY_BYTES = 1_000_000
MAX_BATCH = 10
MAX_DEPTH = 64  # JSON nesting levels in one request; real requests use fewer than 5
WS_ONLY = {"subscribe", "unsubscribe", "unsubscribe_all"}
HEIGHT = ("height", "int")
# method -> [(param name, kind)] in route order; kinds: int (int64 as a string), bytes (base64 []byte),
# hex (HexBytes), str, bool
ROUTES: dict[str, list[tuple[str, str]]] = {
    "health": [],
    "status": [],
    "net_info": [],
    "blockchain": [("minHeight", "int"), ("maxHeight", "int")],
    "genesis": [],
    "genesis_chunked": [("chunk", "int")],
    "block": [HEIGHT],
    "block_by_hash": [("hash", "bytes")],
    "block_results": [HEIGHT],
    "commit": [HEIGHT],
    "header": [HEIGHT],
    "header_by_hash": [("hash", "hex")],
    "check_tx": [("tx", "bytes")],
    "tx": [("hash", "bytes"), ("prove", "bool")],
    "tx_search": [("query", "str"), ("prove", "bool"), ("page", "int"), ("per_page", "int"), ("order_by", "str")],
    "block_search": [("query", "str"), ("page", "int"), ("per_page", "int"), ("order_by", "str")],
    "validators": [HEIGHT, ("page", "int"), ("per_page", "int")],
    "dump_consensus_state": [],
    "consensus_state": [],
    "consensus_params": [HEIGHT],
    "unconfirmed_txs": [("limit", "int")],
    "num_unconfirmed_txs": [],
    "broadcast_tx_commit": [("tx", "bytes")],
    "broadcast_tx_sync": [("tx", "bytes")],
    "broadcast_tx_async": [("tx", "bytes")],
    "abci_query": [("path", "str"), ("data", "hex"), HEIGHT, ("prove", "bool")],
    "abci_info": [],
    "broadcast_evidence": [("evidence", "str")],
    "subscribe": [("query", "str")],
    "unsubscribe": [("query", "str")],
    "unsubscribe_all": [],
}
CACHEABLE_WITH_HEIGHT = {"block", "header", "commit", "block_results", "validators", "consensus_params"}
CACHEABLE_ALWAYS = {"block_by_hash", "header_by_hash", "tx", "genesis", "genesis_chunked", "blockchain", "abci_info"}
_HEX = re.compile(r"(?:[0-9a-fA-F]{2})*")
_B64 = re.compile(r"[A-Za-z0-9+/]*={0,2}")
_STRING = re.compile(r'"(?:[^"\\]|\\.)*"', re.S)


class RpcRefusal(Exception):
    """A request refused before dispatch: JSON-RPC `code`/`message`/`data`, whether the reply carries the id, and
    the HTTP status CometBFT answers it with."""

    def __init__(self, code: int, message: str, data: str, *, http_status: int, with_id: bool = False) -> None:
        super().__init__(data)
        self.code, self.message, self.data, self.http_status, self.with_id = code, message, data, http_status, with_id


class ParamError(Exception):
    """Arguments that cannot be converted (-32602 over HTTP, -32603 over the websocket)."""


def parse_error(detail: str) -> RpcRefusal:
    return RpcRefusal(-32700, "Parse error. Invalid JSON", f"error unmarshaling request: {detail[:300]}", http_status=500)


def too_deep() -> RpcRefusal:
    return RpcRefusal(-32600, "Invalid Request", f"request nesting exceeds {MAX_DEPTH} levels", http_status=400)


def _reject_constant(name: str) -> float:
    raise ValueError(f"invalid character '{name[0]}' looking for beginning of value")


def _strict_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise ValueError(f"number {text[:40]} out of range")
    return value


def _depth_exceeds(text: str, limit: int) -> bool:
    """True when brackets nest deeper than limit outside strings (linear, no recursion)."""
    if text.count("[") + text.count("{") <= limit:
        return False
    depth = 0
    for m in re.finditer(r"[\[\]{}]", _STRING.sub("", text)):
        depth += 1 if m.group() in "[{" else -1
        if depth > limit:
            return True
    return False


def parse_json(raw: bytes | str) -> Any:
    """Strict JSON (what Go's encoding/json accepts, within simnet's limits); RpcRefusal otherwise."""
    text = raw.decode("utf-8", "replace") if isinstance(raw, bytes | bytearray) else raw
    if _depth_exceeds(text, MAX_DEPTH):
        raise too_deep()
    try:
        return json.loads(text, parse_constant=_reject_constant, parse_float=_strict_float)
    except RecursionError:
        raise too_deep() from None
    except ValueError as e:  # JSONDecodeError, bad constants, overlong integers
        raise parse_error(str(e)) from None


def read_id(req: dict[str, Any]) -> tuple[bool, Any]:
    """(is_request, id): strings stay strings, numbers become integers (fraction dropped); null/absent = notification."""
    if "id" not in req or req["id"] is None:
        return False, None
    v = req["id"]
    if isinstance(v, str):
        return True, v
    if isinstance(v, bool) or not isinstance(v, int | float):
        raise parse_error(f"json: cannot unmarshal {type(v).__name__} into a JSON-RPC id (want a string or a number)")
    n = int(v)
    if not INT64_MIN <= n <= INT64_MAX:
        raise parse_error(f"id {str(v)[:40]} does not fit in an int64")
    return True, n


def check_request(r: Any) -> None:
    if not isinstance(r, dict):
        raise parse_error(f"json: cannot unmarshal {type(r).__name__} into a request object")
    if "method" in r and not isinstance(r["method"], str):
        raise parse_error(f"json: cannot unmarshal {type(r['method']).__name__} into the method (want a string)")


def _short(v: Any) -> str:
    text = json.dumps(v) if not isinstance(v, str) else v
    return text if len(text) <= 60 else text[:60] + "..."


def _json_arg(kind: str, name: str, v: Any) -> Any:
    if kind == "int":
        if not isinstance(v, str):
            raise ParamError(f'{name}: invalid 64-bit integer encoding "{_short(v)}", expected string')
        try:
            return parse_int64(v)
        except IntSyntaxError as e:
            raise ParamError(f"{name}: {e}") from None
    if kind == "bool":
        if not isinstance(v, bool):
            raise ParamError(f"{name}: expected true or false, got {_short(v)}")
        return v
    if not isinstance(v, str):
        raise ParamError(f"{name}: expected a string, got {_short(v)}")
    if kind == "bytes":
        if not _B64.fullmatch(v) or len(v) % 4:
            raise ParamError(f"{name}: illegal base64 data {_short(v)!r}")
        return base64.b64decode(v)
    if kind == "hex":
        if not _HEX.fullmatch(v):
            raise ParamError(f"{name}: encoding/hex: invalid hex {_short(v)!r} (hex digits without 0x, even length)")
        return binascii.unhexlify(v)
    return v


def convert_json_params(method: str, params: Any) -> dict[str, Any]:
    spec = ROUTES[method]
    if params is None or params == {} or params == []:
        return {}
    if isinstance(params, dict):
        return {name: _json_arg(kind, name, params[name]) for name, kind in spec if params.get(name) is not None}
    if isinstance(params, list):
        if len(params) != len(spec):
            raise ParamError(f"expected {len(spec)} parameters ({', '.join(n for n, _ in spec)}), got {len(params)}")
        return {name: _json_arg(kind, name, v) for (name, kind), v in zip(spec, params, strict=True) if v is not None}
    raise ParamError(f"params must be an object or an array, got {_short(params)}")


def _uri_arg(kind: str, name: str, v: str) -> Any:
    quoted = len(v) >= 2 and v[0] == v[-1] == '"'
    if kind == "int":
        if v.startswith("0x"):
            raise ParamError(f"{name}: got a hex string arg, but expected 'int64'")
        try:
            return parse_int64(v[1:-1] if quoted else v)
        except IntSyntaxError as e:
            raise ParamError(f"{name}: {e}") from None
    if kind == "bool":
        if v not in ("true", "false"):
            raise ParamError(f"{name}: expected true or false, got {_short(v)!r}")
        return v == "true"
    if v.startswith("0x"):
        if not _HEX.fullmatch(v[2:]):
            raise ParamError(f"{name}: encoding/hex: invalid hex {_short(v)!r}")
        raw = binascii.unhexlify(v[2:])
        return raw.decode("utf-8", "replace") if kind == "str" else raw
    if quoted:
        if kind != "str":
            return v[1:-1].encode()
        try:
            value = parse_json(v)
        except RpcRefusal as e:
            raise ParamError(f"{name}: {e.data}") from None
        if not isinstance(value, str):
            raise ParamError(f"{name}: expected a quoted string")
        return value
    raise ParamError(f'{name}: invalid value {_short(v)!r}: quote strings (name="value") or give bytes as 0x-prefixed hex')


def convert_uri_params(method: str, query: Any) -> dict[str, Any]:
    return {name: _uri_arg(kind, name, query[name]) for name, kind in ROUTES[method] if query.get(name)}


def dumps(obj: Any) -> str:
    """Compact JSON; ASCII-only, so any string (even a lone surrogate from the request) encodes."""
    return json.dumps(obj, separators=(",", ":"))


def error_obj(code: int, message: str, data: str = "", *, id_: Any = None, has_id: bool = True) -> dict[str, Any]:
    err: dict[str, Any] = {"code": code, "message": message}
    if data:
        err["data"] = data
    out: dict[str, Any] = {"jsonrpc": "2.0"}
    if has_id:
        out["id"] = id_
    out["error"] = err
    return out


def refusal_obj(r: RpcRefusal, id_: Any = None) -> dict[str, Any]:
    return error_obj(r.code, r.message, r.data, id_=id_, has_id=r.with_id)
