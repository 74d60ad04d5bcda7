"""The chaos proxy and its control API under hostile input: only well-formed HTTP/1.1 is forwarded (RFC 9112: no
duplicate or conflicting Content-Length), fault parameters and windows are finite and bounded (nothing is held for
ever, clear releases what is delayed), the control API answers 4xx JSON, the websocket frame splitter survives any bytes.
Each refusal leaves the proxy answering and the upstream untouched."""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Iterator

import pytest
import requests
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from harness.chaos import ChaosProxy
from harness.chaos.control import ChaosControl
from harness.chaos.faults import FaultSpec
from harness.chaos.http import HttpParseError, parse_request_head, rpc_methods
from harness.chaos.testing import RpcUpstream
from harness.chaos.ws import FrameSplitter
from harness.errors import ConfigError
from harness.util.wait import wait_until

RPC = b'{"jsonrpc": "2.0", "id": 1, "method": "status"}'


@pytest.fixture
def proxy(upstream: RpcUpstream) -> Iterator[ChaosProxy]:
    with ChaosProxy(upstream.url, seed=5) as p:
        yield p


def exchange(proxy: ChaosProxy, raw: bytes, timeout_s: float = 5.0) -> bytes:
    """Send raw bytes, half-close, read the whole answer."""
    with socket.create_connection(("127.0.0.1", proxy.port), timeout=timeout_s) as s:
        s.sendall(raw)
        s.shutdown(socket.SHUT_WR)
        out = b""
        try:
            while chunk := s.recv(65536):
                out += chunk
        except ConnectionResetError:
            out += b"<reset>"
        return out


def post(body: bytes, *headers: str) -> bytes:
    return ("POST / HTTP/1.1\r\nHost: x\r\n" + "".join(h + "\r\n" for h in headers) + "\r\n").encode() + body


CL = f"Content-Length: {len(RPC)}"
REFUSED = [
    ("duplicate equal Content-Length", post(RPC, CL, CL), 400, "more than one Content-Length"),
    ("conflicting Content-Length", post(RPC, CL, "Content-Length: 5"), 400, "Content-Length"),
    ("Content-Length list", post(RPC, f"Content-Length: {len(RPC)}, {len(RPC)}"), 400, "more than one Content-Length"),
    ("Content-Length and chunked", post(b"5\r\nhello\r\n0\r\n\r\n", CL, "Transfer-Encoding: chunked"), 400, "both"),
    ("two Transfer-Encodings", post(b"0\r\n\r\n", "Transfer-Encoding: chunked", "Transfer-Encoding: chunked"), 501, ""),
    ("gzip transfer coding", post(b"", "Transfer-Encoding: gzip"), 501, ""),
    ("negative length", post(RPC, "Content-Length: -1"), 400, ""),
    ("unicode digits", post(RPC, "Content-Length: \u00b2".encode("latin-1").decode("latin-1")), 400, ""),
    ("huge chunk size", post(b"fffffffffffffffffffffff\r\n", "Transfer-Encoding: chunked"), 400, ""),
    ("body over the limit", post(b"", "Content-Length: 99999999999"), 413, "exceeds"),
    ("no Host", b"POST / HTTP/1.1\r\n" + CL.encode() + b"\r\n\r\n" + RPC, 400, "Host"),
    ("HTTP/2", b"GET / HTTP/2\r\nHost: x\r\n\r\n", 505, "unsupported HTTP version"),
    ("HTTP/0.9", b"GET /\r\n\r\n", 400, ""),
    ("space in target", b"GET /a b HTTP/1.1\r\nHost: x\r\n\r\n", 400, ""),
    ("NUL in a header", b"GET / HTTP/1.1\r\nHost: x\r\nX-A: a\x00b\r\n\r\n", 400, ""),
    ("space before colon", b"GET / HTTP/1.1\r\nHost: x\r\nContent-Length : 3\r\n\r\nabc", 400, ""),
    ("head over 64 KiB", b"GET /" + b"a" * 70_000 + b" HTTP/1.1\r\nHost: x\r\n\r\n", 431, "exceeds"),
    ("truncated body", post(b"{", "Content-Length: 100"), 400, ""),
]


@pytest.mark.parametrize(("name", "raw", "status", "needle"), REFUSED, ids=[r[0] for r in REFUSED])
def test_malformed_http_is_refused_and_never_forwarded(proxy, upstream, name, raw, status, needle):
    calls = len(upstream.calls)
    answer = exchange(proxy, raw)
    assert answer.startswith(f"HTTP/1.1 {status} ".encode()), answer[:200]
    body = json.loads(answer.split(b"\r\n\r\n", 1)[1])
    assert needle in body["error"]
    assert len(answer) < 2000
    assert len(upstream.calls) == calls, "nothing reached the upstream"
    records = proxy.history()
    assert [r.outcome for r in records] == ["bad_request"]
    assert records[0].status == status
    assert requests.post(proxy.url, data=RPC, timeout=5).json()["result"]  # still answering


ACCEPTED = [
    ("bare LF line ends", b"POST / HTTP/1.1\nHost: x\n" + CL.encode() + b"\n\n" + RPC),
    ("folded header", b"POST / HTTP/1.1\r\nHost: x\r\nX-A: a\r\n b\r\n" + CL.encode() + b"\r\n\r\n" + RPC),
    ("chunked", post(b"%x\r\n" % len(RPC) + RPC + b"\r\n0\r\n\r\n", "Transfer-Encoding: chunked")),
    ("HTTP/1.0", b"POST / HTTP/1.0\r\n" + CL.encode() + b"\r\n\r\n" + RPC),
    ("expect 100-continue", post(RPC, CL, "Expect: 100-continue")),
]


@pytest.mark.parametrize(("name", "raw"), ACCEPTED, ids=[a[0] for a in ACCEPTED])
def test_well_formed_variants_are_forwarded_normalized(proxy, upstream, name, raw):
    calls = len(upstream.calls)
    answer = exchange(proxy, raw)
    final = answer.split(b"HTTP/1.1 100 Continue\r\n\r\n", 1)[-1]
    assert final.startswith(b"HTTP/1.1 200"), answer[:300]
    assert upstream.calls[calls:] == ["status"]
    assert [r.outcome for r in proxy.history()] == ["ok"]


def test_bodies_that_are_not_json_or_nest_deep_pass_without_a_proxy_error(proxy):
    deep = b"[" * 200_000 + b"]" * 200_000
    for body in (deep, b"\xff\xfe", b'{"method": ' + b"1" * 5000 + b"}"):
        answer = exchange(proxy, post(body, f"Content-Length: {len(body)}"))
        assert answer.startswith(b"HTTP/1.1 "), answer[:100]
    assert not [r for r in proxy.history() if r.outcome == "proxy_error"]
    assert all(r.methods == () for r in proxy.history())


def test_a_huge_batch_is_matched_on_its_first_methods():
    batch = json.dumps([{"method": f"m{i}"} for i in range(100_000)]).encode()
    methods = rpc_methods("POST", "/", batch)
    assert len(methods) == 256
    assert methods[0] == "m0"


HEADERS = st.lists(
    st.tuples(st.text("abcdefgh-:\x00 ", min_size=0, max_size=8), st.text(st.characters(max_codepoint=255), max_size=12)),
    max_size=6,
)


@settings(max_examples=300, deadline=None)
@given(method=st.sampled_from(["GET", "POST", "G T", ""]), target=st.text(st.characters(max_codepoint=255), max_size=12),
       version=st.sampled_from(["HTTP/1.1", "HTTP/1.0", "HTTP/2", "HTTP/1.x", ""]), headers=HEADERS)  # fmt: skip
def test_any_head_parses_or_is_refused_with_a_status(method, target, version, headers):
    head = f"{method} {target} {version}\r\n" + "".join(f"{k}: {v}\r\n" for k, v in headers) + "\r\n"
    try:
        req = parse_request_head(head.encode("latin-1"))
    except HttpParseError as e:
        status = e.status
        req = None
    if req is None:
        assert 400 <= status < 600
        return
    assert req.method == method


# -- fault parameters and windows ---------------------------------------------------------------------------------
BAD_SPECS = [
    ({"fault": "latency", "params": {"latency_ms": 1e400}, "window": {"max_count": 1}}, "params.latency_ms"),
    ({"fault": "latency", "params": {"latency_ms": 10**30}, "window": {"max_count": 1}}, "params.latency_ms"),
    ({"fault": "latency", "params": {"latency_ms": 1, "jitter_ms": 1e308}, "window": {"max_count": 1}}, "params.jitter_ms"),
    ({"fault": "blackhole", "params": {"hold_ms": 1e12}, "window": {"max_count": 1}}, "params.hold_ms"),
    ({"fault": "close_idle", "params": {"idle_ms": -5}, "window": {"max_count": 1}}, "params.idle_ms"),
    ({"fault": "eof", "window": {"end_unix_ms": 1e300}}, "window.end_unix_ms"),
    ({"fault": "eof", "window": {"end_unix_ms": 4_000_000_000_000}}, "window.end_unix_ms"),
    ({"fault": "eof", "window": {"end_height": 10**23}}, "window.end_height"),
    ({"fault": "eof", "window": {"end_ms": 1e12}}, "window.end_ms"),
    ({"fault": "eof", "window": {"max_duration_ms": 1e300}}, "window.max_duration_ms"),
    ({"fault": "eof", "window": {"max_count": 10**30}}, "window.max_count"),
    ({"fault": "eof", "target": {"nth": 10**30}, "window": {"max_count": 1}}, "target.nth"),
    ({"fault": "eof", "target": {"probability": float("nan")}, "window": {"max_count": 1}}, "target.probability"),
    ({"fault": "eof", "target": {"methods": ["m"] * 1000}, "window": {"max_count": 1}}, "target.methods"),
    ({"fault": "eof", "target": {"methods": ["x" * 1000]}, "window": {"max_count": 1}}, "target.methods"),
]


@pytest.mark.parametrize(("spec", "field"), BAD_SPECS, ids=[f"{i}-{f}" for i, (_, f) in enumerate(BAD_SPECS)])
def test_unbounded_or_non_finite_specs_are_refused(proxy, spec, field):
    with pytest.raises(ConfigError, match=field.replace(".", r"\.")):
        FaultSpec.from_json(spec) if field.startswith(("params", "target")) or "unix" not in field else proxy.add_fault(spec)
    body = json.dumps(spec, allow_nan=True)
    r = requests.post(proxy.control_url + "/faults", data=body, timeout=5)
    assert r.status_code == 400
    error = r.json()["error"]
    assert error.startswith(field) or "not valid JSON" in error  # 1e400 and NaN are not JSON: refused before the spec
    assert proxy.faults() == []


def test_an_end_height_far_above_the_known_height_is_refused(proxy):
    proxy.set_height(40)
    with pytest.raises(ConfigError, match="unbounded in effect"):
        proxy.add_fault({"fault": "eof", "window": {"end_height": 40 + 100_001}})
    proxy.add_fault({"fault": "eof", "window": {"end_height": 40 + 100_000}})


def test_every_fault_ends_within_a_day_whatever_its_window(proxy):
    proxy.add_fault({"fault": "eof", "window": {"end_height": 5}})
    (fault,) = ChaosControl(proxy.control_url).faults()
    assert fault["end_unix_ms"] <= fault["added_ms"] + 24 * 3600 * 1000


@pytest.mark.parametrize(("height", "needle"), [(2**70, "height"), (-1, "height"), (True, "height"), ("7", "height")])
def test_height_updates_are_checked(proxy, height, needle):
    r = requests.post(proxy.control_url + "/height", json={"height": height}, timeout=5)
    assert r.status_code == 400
    assert r.json()["error"].startswith(needle)
    proxy.set_height(10)
    r = requests.post(proxy.control_url + "/height", json={"height": 10 + 100_001}, timeout=5)
    assert r.status_code == 400
    assert "never goes down" in r.json()["error"]
    assert proxy.height == 10


def test_clear_releases_a_delayed_request_at_once(proxy):
    proxy.add_fault({"fault": "latency", "params": {"latency_ms": 600_000}, "window": {"max_count": 1}})
    result: list[int] = []
    t = threading.Thread(target=lambda: result.append(requests.post(proxy.url, data=RPC, timeout=30).status_code))
    t.start()
    wait_until(lambda: any(r.outcome == "in_flight" for r in proxy.history()), timeout_s=5, what="the request is held")
    t0 = time.monotonic()
    ChaosControl(proxy.control_url).clear()
    t.join(10)
    assert result == [200]
    assert time.monotonic() - t0 < 5
    assert [r.outcome for r in proxy.history()] == ["ok"]


def test_the_faults_document_is_strict_json(proxy):
    proxy.add_fault({"fault": "blackhole", "window": {"end_height": 3}})
    text = requests.get(proxy.control_url + "/faults", timeout=5).text
    json.loads(text, parse_constant=lambda c: pytest.fail(f"{c} in GET /faults"))


# -- the control API -------------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("method", "path", "body", "status", "needle"),
    [
        ("POST", "/faults", b"[" * 100_000 + b"]" * 100_000, 400, "nested deeper"),
        ("POST", "/faults", b"x" * (2 << 20), 413, "larger than"),
        ("POST", "/faults", b"\xff", 400, "not valid JSON"),
        ("POST", "/faults", b'{"fault": "eof", "window": {"max_count": NaN}}', 400, "not valid JSON"),
        ("POST", "/height", b'{"height": 1, "x": 2}', 400, "height"),
        ("DELETE", "/faults/" + "9" * 30, b"", 400, "fault id"),
        ("DELETE", "/faults/-1", b"", 400, "fault id"),
        ("GET", "/nope", b"", 404, "no such path"),
        ("PUT", "/faults", b"", 405, "not allowed"),
    ],
)
def test_control_api_answers_bad_input_with_json(proxy, method, path, body, status, needle):
    r = requests.request(method, proxy.control_url + path, data=body, timeout=10)
    assert r.status_code == status
    assert r.headers["Content-Type"].startswith("application/json")
    assert needle in r.json()["error"]
    assert len(r.text) < 3000
    assert requests.get(proxy.control_url + "/status", timeout=5).status_code == 200
    assert proxy.faults() == []


JSONISH = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False) | st.text(max_size=10),
    lambda c: st.lists(c, max_size=3) | st.dictionaries(st.text(max_size=8), c, max_size=3),
    max_leaves=10,
)
SPEC = st.fixed_dictionaries(
    {"fault": st.sampled_from(["eof", "latency", "blackhole", "close_idle", "bogus"])},
    optional={
        "params": st.dictionaries(st.sampled_from(["latency_ms", "jitter_ms", "hold_ms", "idle_ms", "x"]), JSONISH),
        "target": st.dictionaries(st.sampled_from(["method", "methods", "nth", "kind", "probability", "connection_id"]), JSONISH),
        "window": st.dictionaries(st.sampled_from(["end_ms", "max_count", "end_height", "start_ms", "end_unix_ms"]), JSONISH),
    },
)


@settings(max_examples=300, deadline=None)
@given(doc=st.one_of(SPEC, JSONISH))
def test_fault_spec_parser_property(doc):
    """Any document is a spec that round-trips, or the documented ConfigError naming a field."""
    try:
        spec = FaultSpec.from_json(doc)
    except ConfigError as e:
        message = str(e)
        spec = None
    if spec is None:
        assert message.split(":", 1)[0].split(".")[0] in ("fault", "params", "target", "window", "spec") or message
        return
    assert FaultSpec.from_json(spec.to_json()) == spec


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(doc=SPEC)
def test_the_control_api_installs_or_refuses_any_spec_and_stays_up(proxy, doc):
    r = requests.post(proxy.control_url + "/faults", json=doc, timeout=5)
    assert r.status_code in (201, 400), r.text[:200]
    proxy.clear()
    assert requests.get(proxy.control_url + "/status", timeout=5).status_code == 200


# -- the websocket frame splitter -------------------------------------------------------------------------------------------
def frame(payload: bytes, opcode: int = 1, fin: bool = True, mask: bytes = b"") -> bytes:
    head = bytes([(0x80 if fin else 0) | opcode])
    n = len(payload)
    size = bytes([n]) if n < 126 else bytes([126]) + n.to_bytes(2, "big") if n < 65536 else bytes([127]) + n.to_bytes(8, "big")
    if mask:
        size = bytes([size[0] | 0x80]) + size[1:]
        payload = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
    return head + size + mask + payload


def newblock(h: int) -> bytes:
    doc = {"result": {"data": {"type": "tendermint/event/NewBlock", "value": {"block": {"header": {"height": str(h)}}}}}}
    return json.dumps(doc).encode()


def split(splitter: FrameSplitter, stream: bytes, cuts: list[int]) -> list:
    pieces, pos = [], 0
    for c in [*cuts, len(stream)]:
        pieces += splitter.feed(stream[pos : pos + c])
        pos += c
    return pieces


@settings(max_examples=200, deadline=None)
@given(cuts=st.lists(st.integers(min_value=1, max_value=60), max_size=20))
def test_the_splitter_finds_heights_across_any_chunking_and_keeps_every_byte(cuts):
    msg = newblock(41)
    ping = frame(b"", opcode=9)
    stream = frame(msg[:30], opcode=1, fin=False) + ping + frame(msg[30:], opcode=0) + frame(newblock(42)) + frame(b"", 8)
    pieces = split(FrameSplitter(), stream, cuts)
    assert [(p.kind, p.height) for p in pieces] == [("control", None), ("message", 41), ("message", 42), ("close", None)]
    assert pieces[0].data == ping, "a ping inside a fragmented message goes ahead of it, whole"
    assert b"".join(p.data for p in pieces[1:]) == stream.replace(ping, b""), "every other byte, in order"


@settings(max_examples=300, deadline=None)
@given(data=st.binary(max_size=400), cuts=st.lists(st.integers(min_value=1, max_value=60), max_size=10))
def test_the_splitter_survives_any_bytes_and_loses_none(data, cuts):
    splitter = FrameSplitter()
    pieces = split(splitter, data + data, cuts)
    out = b"".join(p.data for p in pieces) + splitter.pending
    assert sorted(out) == sorted(data + data)  # only pings/pongs may move ahead; the rest waits for its frame's end


def test_the_splitter_passes_oversized_messages_raw_and_stops_on_a_masked_server_frame():
    big = b'{"NewBlock": "' + b"x" * 100 + b'"}'
    splitter = FrameSplitter(max_message_bytes=64)
    stream = frame(big[:50], fin=False) + frame(big[50:], opcode=0)
    pieces = splitter.feed(stream)
    assert pieces
    assert all(p.kind == "raw" for p in pieces), "an oversized message is passed on, never held"
    assert b"".join(p.data for p in pieces) == stream
    small = b'{"a": 1}'
    assert [(p.kind, p.data) for p in splitter.feed(frame(small))] == [("message", frame(small))]
    masked = frame(newblock(8), mask=b"abcd")
    assert [(p.kind, p.data) for p in splitter.feed(masked)] == [("raw", masked)]
    assert splitter.stopped
    assert [p.kind for p in splitter.feed(frame(newblock(9)))] == ["raw"]
