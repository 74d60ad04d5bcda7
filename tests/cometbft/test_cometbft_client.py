"""CometBFT client side against a tiny local JSON-RPC + websocket server speaking CometBFT 0.38 shapes."""

from __future__ import annotations

import base64
import json
import re
import threading
import time

import pytest
from aiohttp import web

from harness import proto
from harness.cometbft import BlockTimeline, RpcClient, RpcError, RpcTransportError, parse_rfc3339_ms, parse_rfc3339_ns
from harness.cometbft.client import block_time_ceil_blocks
from harness.errors import ConfigError, QueryError, StartupError, WaitTimeout
from harness.util.ports import free_port
from harness.util.wait import wait_until
from tests.support.cometbft_fake import BASE_S, FakeCometBFT, Fault


@pytest.fixture
def node():
    n = FakeCometBFT().start()
    try:
        yield n
    finally:
        n.stop()


@pytest.fixture
def rpc(node):
    with RpcClient(node.url, timeout_s=5.0) as c:
        yield c


# -- envelope ---------------------------------------------------------------------------------------------------------


def test_ids_count_up_and_params_are_cometbft_encoded(node, rpc):
    rpc.health()
    rpc.status()
    rpc.block(7)
    assert [r["id"] for r in node.requests] == [0, 1, 2]
    assert all(r["jsonrpc"] == "2.0" for r in node.requests)
    assert node.requests[2]["params"] == {"height": "7"}  # int64 as a JSON string
    assert rpc.height() == 10
    assert rpc.chain_id() == "gonka-testnet"


def test_wrong_echoed_id_is_rejected(node, rpc):
    node.raw_reply = lambda body: web.json_response({"jsonrpc": "2.0", "id": body["id"] + 1, "result": {}})
    with pytest.raises(RpcTransportError, match=r"wrong ID: sent 0, got 1"):
        rpc.health()
    node.raw_reply = lambda body: web.json_response({"jsonrpc": "2.0", "id": str(body["id"]), "result": {}})
    with pytest.raises(RpcTransportError, match=r"wrong ID: sent 1, got '1'"):
        rpc.health()


def test_error_object_maps_to_rpc_error(node, rpc):
    with pytest.raises(RpcError) as ei:
        rpc.block(99)
    e = ei.value
    assert (e.code, e.message, e.method) == (-32603, "Internal error", "block")
    assert e.data == "height 99 must be less than or equal to the current blockchain height 10"
    assert "RPC error -32603 - Internal error: height 99" in str(e)
    with pytest.raises(RpcError) as ei:
        rpc.call("no_such_method", {})
    assert ei.value.code == -32601
    assert ei.value.data == ""


def test_parse_error_without_id_is_reported_as_error_first(node, rpc):
    # CometBFT leaves the id out when it could not read it; the error must win over the id check.
    body = {"jsonrpc": "2.0", "error": {"code": -32700, "message": "Parse error. Invalid JSON", "data": "error unmarshaling"}}
    node.raw_reply = lambda _b: web.json_response(body, status=500)
    with pytest.raises(RpcError, match="-32700 - Parse error. Invalid JSON: error unmarshaling"):
        rpc.status()


def test_non_json_and_transport_failures(node, rpc):
    node.raw_reply = lambda _b: web.Response(status=404, text="404 page not found")
    with pytest.raises(RpcTransportError, match=r"HTTP 404 with a non-JSON body '404 page not found'"):
        rpc.status()
    closed = RpcClient(f"http://127.0.0.1:{free_port()}", timeout_s=2.0)
    with pytest.raises(RpcTransportError, match="status to http://127.0.0.1:.* failed: ConnectionError"):
        closed.status()
    closed.close()


def test_bad_url_is_config_error():
    with pytest.raises(ConfigError, match="must start with http:// or https://"):
        RpcClient("127.0.0.1:26657")


# -- abci_query -------------------------------------------------------------------------------------------------------


def _abci(code: int = 0, value: bytes | None = None, log: str = "", height: int = 10, codespace: str = "") -> dict:
    return {
        "response": {
            "code": code,
            "log": log,
            "info": "",
            "index": "0",
            "key": None,
            "value": base64.b64encode(value).decode() if value is not None else None,
            "proofOps": None,
            "height": str(height),
            "codespace": codespace,
        }
    }


def test_abci_query_sends_upper_hex_and_decodes_typed(node, rpc):
    resp = proto.inference_pb2.QueryGetPartialUpgradeResponse(
        partialUpgrade=proto.PartialUpgrade(
            height=20, node_version="v0.3.9", name="PartialUpgrade at height 20 for node version v0.3.9"
        )
    )
    node.methods["abci_query"] = lambda p: _abci(value=resp.SerializeToString(), height=12)
    req = proto.inference_pb2.QueryGetPartialUpgradeRequest(height=20)
    got, at = rpc.query_at(proto.Q_PARTIAL_UPGRADE, req)
    assert got.partialUpgrade.node_version == "v0.3.9"
    assert at == 12
    params = node.requests[-1]["params"]
    assert params == {
        "path": proto.Q_PARTIAL_UPGRADE,
        "data": req.SerializeToString().hex().upper(),
        "height": "0",
        "prove": False,
    }
    assert params["data"] == "0814"  # field 1 varint 20
    r = rpc.abci_query("/app/version", b"\xab\xcd", height=5)
    assert node.requests[-1]["params"]["data"] == "ABCD"
    assert node.requests[-1]["params"]["height"] == "5"
    assert r.value == resp.SerializeToString()


def test_abci_query_error_and_null_value(node, rpc):
    node.methods["abci_query"] = lambda p: _abci(code=26, log="inference is not ready", codespace="sdk")
    with pytest.raises(QueryError) as ei:
        rpc.query(proto.Q_MLNODE_VERSION, proto.inference_pb2.QueryGetMLNodeVersionRequest())
    assert (ei.value.code, ei.value.log, ei.value.codespace) == (26, "inference is not ready", "sdk")
    node.methods["abci_query"] = lambda p: _abci(value=None)
    assert rpc.abci_query("/x").value == b""


def test_query_rejects_unknown_path_and_wrong_request_type(rpc):
    with pytest.raises(ConfigError, match="no request/response types known for query path '/nope'"):
        rpc.query("/nope", proto.inference_pb2.QueryParamsRequest())
    with pytest.raises(ConfigError, match="takes inference.inference.QueryGetMLNodeVersionRequest"):
        rpc.query(proto.Q_MLNODE_VERSION, proto.inference_pb2.QueryParamsRequest())


# -- transactions -----------------------------------------------------------------------------------------------------


def test_broadcast_sends_base64_and_tx_lookup_uses_base64_hash(node, rpc):
    raw = b"\x0a\x02hi"
    h = "0D33F2F03A5234F38706E43004489E061AC40A2E1D7F0B8E0D1F2A3B4C5D6E7F"
    node.methods["broadcast_tx_sync"] = lambda p: {"code": 0, "data": "", "log": "", "codespace": "", "hash": h}
    res = rpc.broadcast_tx_sync(raw)
    assert node.requests[-1]["params"] == {"tx": base64.b64encode(raw).decode()}
    assert (res.code, res.hash) == (0, h)

    def tx(p: dict) -> dict:
        got = base64.b64decode(p["hash"]).hex().upper()
        if node.height < 12:
            raise Fault(-32603, "Internal error", f"tx ({got}) not found")
        return {"hash": got, "height": "12", "index": 0, "tx_result": {"code": 0, "events": []}, "tx": ""}

    node.methods["tx"] = tx
    assert rpc.tx(h) is None
    assert base64.b64decode(node.requests[-1]["params"]["hash"]) == bytes.fromhex(h)
    assert node.requests[-1]["params"]["prove"] is False
    node.produce(2, announce=False)
    assert rpc.wait_for_tx(h, timeout_s=2.0)["height"] == "12"


def test_tx_other_errors_propagate_and_bad_hash_is_named(node, rpc):
    node.methods["tx"] = lambda p: (_ for _ in ()).throw(Fault(-32603, "Internal error", "transaction indexing is disabled"))
    with pytest.raises(RpcError, match="transaction indexing is disabled"):
        rpc.tx("AB" * 32)
    with pytest.raises(ConfigError, match="is not hex"):
        rpc.tx("zz")
    with pytest.raises(ConfigError, match="expected 32 bytes"):
        rpc.tx("ABCD")


def test_wait_for_tx_timeout_names_tx_and_height(node, rpc):
    node.methods["tx"] = lambda p: (_ for _ in ()).throw(Fault(-32603, "Internal error", "tx (X) not found"))
    with pytest.raises(WaitTimeout, match=r"(?s)tx (?:AB)+ to be included in a block \(0\.3s\).*latest height 10"):
        rpc.wait_for_tx("AB" * 32, timeout_s=0.3)


# -- heights ----------------------------------------------------------------------------------------------------------


def test_block_time_is_measured_from_recent_blocks(node, rpc):
    assert rpc.block_time_s() == pytest.approx(0.1)
    node.block_interval_ms = 2000
    assert rpc.block_time_s() == pytest.approx(2.0)
    assert rpc.deadline_for_blocks(5, block_time_s=2.0) == pytest.approx(5 * 2.0 * 3 + 4.0)
    node.height = 1
    assert rpc.block_time_s() == 5.0  # too few blocks: CometBFT's default block time


def test_typical_block_interval_is_not_inflated_by_held_blocks_or_shortened_by_catch_up(node, rpc):
    # Two blocks held 1 s each among 0.2 s blocks (a chain holding H-1 and H): the mean says 0.42 s, which would count
    # a 0.6 s voting period as 2 blocks; the median interval still says 0.2 s (3 blocks).
    node.block_interval_ms = 200
    node.held_ms = {8: 1000, 9: 1000}
    assert rpc.block_time_s() == pytest.approx((9 * 0.2 + 2 * 1.0) / 9)
    assert rpc.typical_block_interval_s() == pytest.approx(0.2)
    assert block_time_ceil_blocks(0.6, rpc.typical_block_interval_s()) == 3
    sent = node.requests[-1]
    assert sent["method"] == "blockchain"
    assert sent["params"] == {"minHeight": "1", "maxHeight": "10"}
    # a block 190 ms late and the next one on schedule (10 ms after it): the median is still the block time
    node.held_ms = {5: 190, 6: -190}
    assert rpc.typical_block_interval_s() == pytest.approx(0.2)
    node.height = 1
    assert rpc.typical_block_interval_s() == 5.0  # too few blocks: CometBFT's default block time


def test_wait_for_height_returns_once_reached(node, rpc):
    assert rpc.wait_for_height(5) == 10  # already there
    t = threading.Timer(0.2, node.produce, kwargs={"n": 3, "announce": False})
    t.start()
    try:
        assert rpc.wait_for_height(13, timeout_s=5.0) >= 13
    finally:
        t.cancel()


def test_a_wait_for_height_fails_once_the_chain_stalls_for_its_bound_in_blocks(node, rpc, monkeypatch):
    from harness.cometbft import client

    monkeypatch.setattr(client, "STALL_FLOOR_S", 0.5)  # 10 intervals of the measured 0.1 s: 1 s without a block
    started = time.monotonic()
    with pytest.raises(WaitTimeout) as ei:
        rpc.wait_for_height(11)
    elapsed = time.monotonic() - started
    text = str(ei.value)
    assert "waited for height 11 on http://127.0.0.1" in text
    assert "(height was 10, measured block time 0.100s)" in text
    stalled = re.search(r"aborted: no new block for (\d+\.\d)s \(10 intervals of the measured 0\.100s\) at height 10", text)
    assert stalled, text
    assert float(stalled[1]) >= 1.0, "gave up before the chain had stalled for 10 intervals"
    assert "latest height 10 at block time 2025-03-01T12:00:01Z" in text
    assert "hint: the chain stopped producing blocks" in text
    assert elapsed >= 1.0, "gave up before the chain had stalled for 10 intervals"
    assert elapsed < 1.0 + 10, "the wait outlived its bound"


def test_a_wait_for_height_goes_on_while_the_chain_makes_blocks_slowly(node, rpc, monkeypatch):
    """A loaded machine: blocks come 12 times slower than measured. A deadline in seconds from the measured interval
    (4 blocks: 4 * 0.1 * 3 + 2 = 3.2 s) would give up; a bound in blocks waits while blocks come."""
    from harness.cometbft import client

    monkeypatch.setattr(client, "STALL_FLOOR_S", 3.0)
    done = threading.Event()

    def slow_chain() -> None:
        for _ in range(4):
            if done.wait(1.2):  # the chain's pace, not a synchronisation
                return
            node.produce(n=1, announce=False)

    t = threading.Thread(target=slow_chain, daemon=True)
    t.start()
    started = time.monotonic()
    try:
        assert rpc.wait_for_height(14) == 14
    finally:
        done.set()
        t.join(5)
    assert time.monotonic() - started > 3.2, "the chain was faster than the premise"


# -- RFC3339 ----------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "ns"),
    [
        ("2025-03-01T12:00:00Z", BASE_S * 10**9),
        ("2025-03-01T12:00:05.12Z", (BASE_S + 5) * 10**9 + 120_000_000),
        ("2025-03-01T12:00:05.123456789Z", (BASE_S + 5) * 10**9 + 123_456_789),
        ("2025-03-01T13:00:05.5+01:00", (BASE_S + 5) * 10**9 + 500_000_000),
        ("1970-01-01T00:00:00Z", 0),
    ],
)
def test_rfc3339_nano(text, ns):
    assert parse_rfc3339_ns(text) == ns
    assert parse_rfc3339_ms(text) == ns // 1_000_000


def test_rfc3339_rejects_garbage():
    with pytest.raises(Exception, match="is not RFC3339Nano"):
        parse_rfc3339_ns("2025-03-01 12:00:00")


# -- block timeline ---------------------------------------------------------------------------------------------------


def test_timeline_subscribes_with_string_id_and_records_blocks(node):
    with BlockTimeline(node.url) as tl:
        assert json.loads(node.frames[0]) == {
            "jsonrpc": "2.0",
            "method": "subscribe",
            "id": "1",
            "params": {"query": "tm.event='NewBlock'"},
        }
        node.produce(3)
        seen = tl.wait_for_height(13, timeout_s=5.0)
        assert seen.height == 13
        assert seen.block_time_ms == parse_rfc3339_ms(node.time_of(13))
        assert seen.source == "ws"
        assert [b.height for b in tl.blocks()] == [11, 12, 13]
        assert all(abs(b.received_ms - time.time() * 1000) < 10_000 for b in tl.blocks())
        assert tl.time_of(99) is None
        doc = json.loads(tl.to_json())
        assert [b["height"] for b in doc["blocks"]] == [11, 12, 13]
    assert not tl.running
    wait_until(lambda: node.subscribers() == 0, timeout_s=3.0, what="server to see the websocket close")


def test_timeline_reconnects_after_drop_and_fills_the_gap(node):
    with BlockTimeline(node.url, max_backoff_s=0.2) as tl:
        node.produce(1)
        tl.wait_for_height(11, timeout_s=5.0)
        node.ws_refuse = True
        assert node.drop_websockets() == 1
        node.produce(4, announce=False)  # 12..15 happen while nobody listens
        wait_until(lambda: tl.disconnects, timeout_s=5.0, what="timeline to notice the drop")
        node.ws_refuse = False
        wait_until(lambda: node.subscribers() == 1, timeout_s=5.0, what="timeline to resubscribe")
        node.produce(1)
        tl.wait_for_height(16, timeout_s=5.0)
        blocks = tl.blocks()
        assert [b.height for b in blocks] == [11, 12, 13, 14, 15, 16]
        assert [b.source for b in blocks] == ["ws", "rpc", "rpc", "rpc", "rpc", "ws"]
        assert blocks[2].block_time_ms == parse_rfc3339_ms(node.time_of(13))
        assert tl.reconnects >= 1
        assert len([f for f in map(json.loads, node.frames) if f.get("method") == "subscribe"]) >= 2


def test_timeline_start_fails_with_evidence_when_nothing_listens():
    port = free_port()
    tl = BlockTimeline(f"ws://127.0.0.1:{port}/websocket", connect_timeout_s=0.5, max_reconnects=2)
    with pytest.raises(StartupError, match=rf"NewBlock subscription on ws://127.0.0.1:{port}/websocket"):
        tl.start()
    assert not tl.running


def test_timeline_url_forms():
    with pytest.raises(ConfigError, match="expected ws://HOST:PORT/websocket or http://HOST:PORT"):
        BlockTimeline("127.0.0.1:26657")
