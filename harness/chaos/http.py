"""HTTP/1.1 for the fault proxy. The framing is h11's (request and response heads, Content-Length and chunked bodies,
keep-alive, 100-continue, the websocket upgrade); this module adds what a proxy must refuse on top of it, the
request the proxy forwards, and JSON-RPC method extraction.

Refused with an answer and the connection closed (RFC 9112): anything h11 refuses (malformed request line or header,
bad or oversized chunk, truncated head or body, a head over MAX_HEADER_BYTES: 431), a request with more than one
Content-Length (duplicates, even equal, and comma lists: a smuggling vector behind a proxy), with both Content-Length
and Transfer-Encoding, or with a body over MAX_BODY_BYTES (413). A request is re-serialized for the upstream (so
what it receives is exactly what the proxy parsed), minus `Expect` (the proxy answers 100 itself) and
`Sec-WebSocket-Extensions` (so websocket frames stay uncompressed and the proxy can watch NewBlock events).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass

import h11

MAX_HEADER_BYTES = 64 * 1024
MAX_BODY_BYTES = 16 * 1024 * 1024
MAX_RPC_METHODS = 256  # a batch is matched and recorded on its first MAX_RPC_METHODS method names
_DROPPED_HEADERS = {"expect", "sec-websocket-extensions"}
_HEAD_END = re.compile(rb"\n\r?\n")
_VERSION = re.compile(rb" HTTP/([^\s]*)\r?$")
_CONTENT_LENGTH_LINE = re.compile(rb"\ncontent-length[ \t]*:([^\r\n]*)", re.IGNORECASE)


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
    version: str  # "HTTP/1.1" or "HTTP/1.0"
    headers: tuple[tuple[str, str], ...]  # as received, in order, names in their original case
    payload: bytes = b""  # the decoded body
    rpc_methods: tuple[str, ...] = ()

    def header(self, name: str) -> str | None:
        return header_value(self.headers, name)

    @property
    def path(self) -> str:
        return self.target.split("?", 1)[0]

    @property
    def websocket(self) -> bool:
        return (self.header("upgrade") or "").lower() == "websocket" and "upgrade" in (self.header("connection") or "").lower()

    @property
    def chunked(self) -> bool:
        return "chunked" in (self.header("transfer-encoding") or "").lower()

    def forwarded_headers(self, host: str = "localhost") -> list[tuple[str, str]]:
        """The headers sent upstream; an HTTP/1.0 request without Host gets the upstream's (the proxy speaks 1.1)."""
        headers = [(k, v) for k, v in self.headers if k.lower() not in _DROPPED_HEADERS]
        return headers if self.header("host") is not None else [("Host", host), *headers]

    def h11_events(self, host: str = "localhost") -> list[h11.Request | h11.Data | h11.EndOfMessage]:
        """The request as the proxy sends it upstream."""
        events: list[h11.Request | h11.Data | h11.EndOfMessage] = [
            h11.Request(method=self.method, target=self.target, headers=self.forwarded_headers(host))
        ]
        if self.payload:
            events.append(h11.Data(data=self.payload))
        events.append(h11.EndOfMessage())
        return events

    @property
    def wire_size(self) -> int:
        """Bytes of the request as forwarded (head and body, body framing aside), counted without serializing it."""
        head = len(self.method) + len(self.target) + 12 + sum(len(k) + len(v) + 4 for k, v in self.headers)
        return head + len(self.payload)

    @property
    def raw(self) -> bytes:
        """The bytes the upstream receives for this request."""
        conn = h11.Connection(h11.CLIENT)
        return b"".join(conn.send(e) or b"" for e in self.h11_events())

    @property
    def head(self) -> bytes:
        return h11.Connection(h11.CLIENT).send(self.h11_events()[0]) or b""


def _text(value: bytes) -> str:
    return value.decode("latin-1")


def from_h11(event: h11.Request, payload: bytes = b"") -> HttpRequest:
    headers = tuple((_text(k), _text(v)) for k, v in event.headers.raw_items())
    req = HttpRequest(_text(event.method), _text(event.target), f"HTTP/{_text(event.http_version)}", headers, payload)
    if req.header("content-length") is not None and req.header("transfer-encoding") is not None:
        raise HttpParseError(400, "request has both Transfer-Encoding and Content-Length (RFC 9112 6.1); send one")
    length = req.header("content-length")
    if length is not None and int(length) > MAX_BODY_BYTES:
        raise HttpParseError(413, f"request body of {length} bytes exceeds {MAX_BODY_BYTES}")
    return req


def with_payload(req: HttpRequest, payload: bytes) -> HttpRequest:
    return HttpRequest(req.method, req.target, req.version, req.headers, payload, rpc_methods(req.method, req.target, payload))


def check_head(buffered: bytes) -> None:
    """Refuse a head over MAX_HEADER_BYTES (431; h11 only bounds heads it has not seen the end of), and what h11
    would quietly merge: more than one Content-Length field, or one carrying a list. Looks at the head at the start
    of `buffered` (does nothing before it is complete or too long)."""
    end = _HEAD_END.search(buffered, 0, MAX_HEADER_BYTES + 2)
    if end is None:
        if len(buffered) > MAX_HEADER_BYTES:
            raise HttpParseError(431, f"request head exceeds {MAX_HEADER_BYTES} bytes")
        return
    if end.end() > MAX_HEADER_BYTES:
        raise HttpParseError(431, f"request head exceeds {MAX_HEADER_BYTES} bytes")
    version = _VERSION.search(buffered, 0, buffered.find(b"\n"))
    if version is not None and version[1] not in (b"1.0", b"1.1"):
        raise HttpParseError(505, f"unsupported HTTP version HTTP/{_text(version[1][:10])} (expected HTTP/1.1 or HTTP/1.0)")
    values = _CONTENT_LENGTH_LINE.findall(buffered[: end.end()])
    if len(values) > 1 or (values and b"," in values[0]):
        raise HttpParseError(
            400, "request has more than one Content-Length (RFC 9112 6.3: a proxy must not guess which one counts)"
        )


def h11_error(e: h11.RemoteProtocolError, what: str = "request") -> HttpParseError:
    status = e.error_status_hint if 400 <= e.error_status_hint < 600 else 400
    if status == 431:
        return HttpParseError(431, f"{what} head exceeds {MAX_HEADER_BYTES} bytes")
    return HttpParseError(status, f"malformed {what}: {str(e)[:200]}")


def parse_request_head(data: bytes) -> HttpRequest:
    """One request head (ending in an empty line), parsed and checked like the proxy does. HttpParseError otherwise."""
    check_head(data)
    conn = h11.Connection(h11.SERVER, max_incomplete_event_size=MAX_HEADER_BYTES)
    conn.receive_data(data)
    try:
        event = conn.next_event()
    except h11.RemoteProtocolError as e:
        raise h11_error(e) from None
    if not isinstance(event, h11.Request):
        raise HttpParseError(400, "truncated request head")
    return from_h11(event)


def rpc_methods(http_method: str, target: str, payload: bytes) -> tuple[str, ...]:
    """JSON-RPC method names of a request: POST bodies (single object or batch array), or CometBFT's URI form
    (`GET /status`, `GET /abci_query?path=...`). A body that is not JSON (or nests too deep to parse) gives ()."""
    if http_method == "POST" and payload:
        try:
            doc = json.loads(payload)
        except (ValueError, RecursionError):
            return ()
        if isinstance(doc, dict):
            m = doc.get("method")
            return (m[:128],) if isinstance(m, str) else ()
        if isinstance(doc, list):
            names = (d["method"][:128] for d in doc if isinstance(d, dict) and isinstance(d.get("method"), str))
            return tuple(name for name, _ in zip(names, range(MAX_RPC_METHODS), strict=False))
        return ()
    if http_method == "GET":
        name = target.split("?", 1)[0].strip("/")
        if name and name != "websocket" and "/" not in name:
            return (name[:128],)
    return ()


def simple_response(status: int, reason: str, message: str) -> bytes:
    body = json.dumps({"error": message}).encode()
    head = (
        f"HTTP/1.1 {status} {reason}\r\nContent-Type: application/json\r\nContent-Length: {len(body)}\r\n"
        "Connection: close\r\nX-Chaos-Proxy: 1\r\n\r\n"
    )
    return head.encode() + body


REASONS = {
    400: "Bad Request",
    413: "Content Too Large",
    431: "Request Header Fields Too Large",
    501: "Not Implemented",
    502: "Bad Gateway",
    505: "HTTP Version Not Supported",
}
