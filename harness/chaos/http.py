"""Just enough HTTP/1.1 for a fault proxy: request heads, bodies (Content-Length and chunked), response framing,
JSON-RPC method extraction (single and batch) and websocket upgrade detection.

The proxy forwards the bytes it read verbatim (`HttpRequest.raw`), except that it drops `Expect: 100-continue`
(it answers 100 itself) and `Sec-WebSocket-Extensions` (so websocket frames stay uncompressed and the proxy can
watch NewBlock events for the block height).
"""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass

MAX_HEADER_BYTES = 64 * 1024
MAX_BODY_BYTES = 16 * 1024 * 1024
_DROPPED_HEADERS = {"expect", "sec-websocket-extensions"}
_TOKEN_CHARS = set("!#$%&'*+-.^_`|~0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ")


class HttpParseError(Exception):
    """Malformed or oversized input; `status` is what the proxy answers before closing."""

    def __init__(self, status: int, reason: str) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason


def header_value(headers: tuple[tuple[str, str], ...], name: str) -> str | None:
    """The first header called `name` (case-insensitive), or None."""
    name = name.lower()
    return next((v for k, v in headers if k.lower() == name), None)


@dataclass(frozen=True)
class HttpRequest:
    method: str
    target: str
    version: str
    headers: tuple[tuple[str, str], ...]
    head: bytes  # the head as forwarded (request line + headers + CRLFCRLF)
    body: bytes = b""  # the body as sent on the wire (chunked framing kept)
    payload: bytes = b""  # the decoded body
    rpc_methods: tuple[str, ...] = ()

    def header(self, name: str) -> str | None:
        return header_value(self.headers, name)

    @property
    def raw(self) -> bytes:
        return self.head + self.body

    @property
    def path(self) -> str:
        return self.target.split("?", 1)[0]

    @property
    def keep_alive(self) -> bool:
        conn = (self.header("connection") or "").lower()
        if self.version == "HTTP/1.0":
            return "keep-alive" in conn
        return "close" not in conn

    @property
    def websocket(self) -> bool:
        return (self.header("upgrade") or "").lower() == "websocket" and "upgrade" in (self.header("connection") or "").lower()

    @property
    def expect_continue(self) -> bool:
        return (self.header("expect") or "").lower() == "100-continue"

    @property
    def chunked(self) -> bool:
        return "chunked" in (self.header("transfer-encoding") or "").lower()


def _split_head(data: bytes, what: str) -> tuple[str, list[tuple[str, str]]]:
    try:
        text = data.decode("latin-1")
    except UnicodeDecodeError:  # pragma: no cover - latin-1 decodes everything
        raise HttpParseError(400, f"{what} is not text") from None
    lines = text.lstrip("\r\n").split("\r\n")
    start = lines[0]
    headers: list[tuple[str, str]] = []
    for line in lines[1:]:
        if not line:
            continue
        if line[0] in " \t":
            raise HttpParseError(400, f"obsolete header line folding in {what}: {line[:60]!r}")
        name, sep, value = line.partition(":")
        if not sep or not name or not set(name) <= _TOKEN_CHARS:
            raise HttpParseError(400, f"malformed header line in {what}: {line[:60]!r} (expected 'Name: value')")
        headers.append((name, value.strip()))
    return start, headers


def parse_request_head(data: bytes) -> HttpRequest:
    """Parse a request head ending in CRLFCRLF. Raises HttpParseError (400) on anything that is not HTTP/1.x."""
    start, headers = _split_head(data, "request head")
    parts = start.split(" ")
    if len(parts) != 3 or not parts[0] or not set(parts[0]) <= _TOKEN_CHARS or not parts[1]:
        raise HttpParseError(400, f"malformed request line {start[:80]!r} (expected 'METHOD /path HTTP/1.1')")
    method, target, version = parts
    if version not in ("HTTP/1.1", "HTTP/1.0"):
        raise HttpParseError(400, f"unsupported HTTP version {version[:20]!r} (expected HTTP/1.1 or HTTP/1.0)")
    kept = [(k, v) for k, v in headers if k.lower() not in _DROPPED_HEADERS]
    head = data if len(kept) == len(headers) else _render_head(start, kept)
    req = HttpRequest(method=method, target=target, version=version, headers=tuple(headers), head=head)
    if req.chunked and req.header("content-length") is not None:
        raise HttpParseError(400, "request has both Transfer-Encoding: chunked and Content-Length")
    return req


def _render_head(start: str, headers: list[tuple[str, str]]) -> bytes:
    lines = [start, *(f"{k}: {v}" for k, v in headers), "", ""]
    return "\r\n".join(lines).encode("latin-1")


async def read_head(reader: asyncio.StreamReader, what: str = "request head") -> bytes | None:
    """Read up to and including CRLFCRLF. None if the peer closed before sending anything."""
    try:
        return await reader.readuntil(b"\r\n\r\n")
    except asyncio.IncompleteReadError as e:
        if not e.partial.strip():
            return None
        raise HttpParseError(400, f"truncated {what}: peer closed after {len(e.partial)} bytes") from None
    except asyncio.LimitOverrunError:
        raise HttpParseError(431, f"{what} exceeds {MAX_HEADER_BYTES} bytes") from None
    except ValueError as e:  # limit exceeded while the separator was found past it
        raise HttpParseError(431, f"{what} exceeds {MAX_HEADER_BYTES} bytes ({e})") from None


async def read_request_body(reader: asyncio.StreamReader, req: HttpRequest) -> HttpRequest:
    """Read the body announced by the head; return the request with body, payload and JSON-RPC methods filled in."""
    if req.chunked:
        body, payload = await _read_chunked(reader, "request")
    else:
        length = _content_length(req.header("content-length"))
        if length > MAX_BODY_BYTES:
            raise HttpParseError(413, f"request body of {length} bytes exceeds {MAX_BODY_BYTES}")
        try:
            body = payload = await reader.readexactly(length) if length else b""
        except asyncio.IncompleteReadError as e:
            raise HttpParseError(400, f"truncated request body: got {len(e.partial)} of {length} bytes") from None
    methods = rpc_methods(req.method, req.target, payload)
    return HttpRequest(req.method, req.target, req.version, req.headers, req.head, body, payload, methods)


def _content_length(value: str | None) -> int:
    if value is None:
        return 0
    if not value.isdigit():
        raise HttpParseError(400, f"bad Content-Length {value[:30]!r} (expected a non-negative integer)")
    return int(value)


async def _read_chunked(reader: asyncio.StreamReader, what: str) -> tuple[bytes, bytes]:
    raw = bytearray()
    payload = bytearray()
    try:
        while True:
            line = await reader.readuntil(b"\r\n")
            raw += line
            size_text = line.split(b";", 1)[0].strip()
            try:
                size = int(size_text, 16)
            except ValueError:
                raise HttpParseError(400, f"bad chunk size {size_text[:20]!r} in {what} body") from None
            if size == 0:
                while True:  # trailers up to an empty line
                    trailer = await reader.readuntil(b"\r\n")
                    raw += trailer
                    if trailer == b"\r\n":
                        return bytes(raw), bytes(payload)
            if len(payload) + size > MAX_BODY_BYTES:
                raise HttpParseError(413, f"chunked {what} body exceeds {MAX_BODY_BYTES} bytes")
            data = await reader.readexactly(size + 2)
            if data[-2:] != b"\r\n":
                raise HttpParseError(400, f"chunk of {what} body not followed by CRLF")
            raw += data
            payload += data[:-2]
    except asyncio.IncompleteReadError:
        raise HttpParseError(400, f"truncated chunked {what} body") from None
    except (asyncio.LimitOverrunError, ValueError):
        raise HttpParseError(400, f"chunk header line too long in {what} body") from None


def rpc_methods(http_method: str, target: str, payload: bytes) -> tuple[str, ...]:
    """JSON-RPC method names of a request: POST bodies (single object or batch array), or CometBFT's URI form
    (`GET /status`, `GET /abci_query?path=...`). Unparseable bodies give ()."""
    if http_method == "POST" and payload:
        try:
            doc = json.loads(payload)
        except ValueError:
            return ()
        if isinstance(doc, dict):
            m = doc.get("method")
            return (m,) if isinstance(m, str) else ()
        if isinstance(doc, list):
            return tuple(d["method"] for d in doc if isinstance(d, dict) and isinstance(d.get("method"), str))
        return ()
    if http_method == "GET":
        name = target.split("?", 1)[0].strip("/")
        if name and name != "websocket" and "/" not in name:
            return (name,)
    return ()


@dataclass(frozen=True)
class ResponseHead:
    status: int
    headers: tuple[tuple[str, str], ...]
    raw: bytes

    def header(self, name: str) -> str | None:
        return header_value(self.headers, name)

    @property
    def keep_alive(self) -> bool:
        return "close" not in (self.header("connection") or "").lower()


def parse_response_head(data: bytes) -> ResponseHead:
    start, headers = _split_head(data, "upstream response head")
    parts = start.split(" ", 2)
    if len(parts) < 2 or not parts[0].startswith("HTTP/1.") or not parts[1].isdigit():
        raise HttpParseError(502, f"malformed upstream status line {start[:80]!r}")
    return ResponseHead(int(parts[1]), tuple(headers), data)


def response_framing(resp: ResponseHead, request_method: str) -> tuple[str, int]:
    """How the response body is delimited: ("none", 0), ("length", n), ("chunked", 0) or ("close", 0)."""
    if request_method == "HEAD" or resp.status in (204, 304) or 100 <= resp.status < 200:
        return "none", 0
    if "chunked" in (resp.header("transfer-encoding") or "").lower():
        return "chunked", 0
    cl = resp.header("content-length")
    if cl is not None:
        if not cl.isdigit():
            raise HttpParseError(502, f"bad upstream Content-Length {cl[:30]!r}")
        return "length", int(cl)
    return "close", 0


async def copy_chunked(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> int:
    """Copy one chunked body verbatim from reader to writer; returns bytes copied."""
    total = 0
    while True:
        line = await reader.readuntil(b"\r\n")
        writer.write(line)
        total += len(line)
        size = int(line.split(b";", 1)[0].strip(), 16)
        if size == 0:
            while True:
                trailer = await reader.readuntil(b"\r\n")
                writer.write(trailer)
                total += len(trailer)
                if trailer == b"\r\n":
                    return total
        data = await reader.readexactly(size + 2)
        writer.write(data)
        total += len(data)
        await writer.drain()


def simple_response(status: int, reason: str, message: str) -> bytes:
    body = json.dumps({"error": message}).encode()
    head = (
        f"HTTP/1.1 {status} {reason}\r\nContent-Type: application/json\r\nContent-Length: {len(body)}\r\n"
        "Connection: close\r\nX-Chaos-Proxy: 1\r\n\r\n"
    )
    return head.encode() + body


REASONS = {400: "Bad Request", 413: "Content Too Large", 431: "Request Header Fields Too Large", 502: "Bad Gateway"}
