"""simnet's CometBFT 0.38 JSON-RPC surface: shapes (reference/cometbft-rpc-shapes.md), JSON-RPC error and id
rules, batches, the URI form, and the websocket (subscriptions, events, abrupt client closes)."""

from __future__ import annotations

import base64
import json
import re
import socket
import struct

import pytest
import requests
from websockets.sync.client import connect

from harness import proto
from harness.model.simnet import Genesis, Simnet
from harness.util.wait import wait_until

HEX64 = re.compile(r"^[0-9A-F]{64}$")
HEX40 = re.compile(r"^[0-9A-F]{40}$")
TIME = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d*[1-9])?Z$")
INT_STR = re.compile(r"^-?\d+$")


@pytest.fixture(scope="module")
def net():
    with Simnet(Genesis(block_time_s=0.05), port=0) as sim:
        wait_until(lambda: sim.height >= 3, timeout_s=10, what="simnet height >= 3")
        yield sim


def post(net, body, raw: bool = False) -> requests.Response:
    data = body if raw else json.dumps(body)
    return requests.post(net.rpc_url, data=data, timeout=5)


def call(net, method, params=None, id_=1):
    r = post(net, {"jsonrpc": "2.0", "id": id_, "method": method, "params": params or {}})
    assert r.status_code == 200, r.text
    return r.json()


# -- shapes ----------------------------------------------------------------------------------
def test_status_shape(net):
    r = post(net, {"jsonrpc": "2.0", "id": 0, "method": "status", "params": {}})
    assert r.headers["Content-Type"] == "application/json"
    assert INT_STR.match(r.headers["X-Server-Time"])
    assert not r.text.endswith("\n")
    assert ": " not in r.text
    body = r.json()
    assert body["jsonrpc"] == "2.0"
    assert body["id"] == 0
    assert "error" not in body
    res = body["result"]
    ni, si, vi = res["node_info"], res["sync_info"], res["validator_info"]
    assert ni["protocol_version"] == {"p2p": "8", "block": "11", "app": "0"}
    assert re.match(r"^[0-9a-f]{40}$", ni["id"])
    assert ni["network"] == "gonka-testnet"
    assert ni["version"] == "0.38.17"
    assert ni["other"]["rpc_address"] == f"tcp://127.0.0.1:{net.port}"
    assert int(si["latest_block_height"]) >= 3
    assert si["catching_up"] is False
    assert HEX64.match(si["latest_block_hash"])
    assert HEX64.match(si["latest_app_hash"])
    assert TIME.match(si["latest_block_time"])
    assert si["earliest_block_height"] == "1"
    assert HEX40.match(vi["address"])
    assert vi["voting_power"] == "10"
    assert vi["pub_key"]["type"] == "tendermint/PubKeySecp256k1"
    assert len(base64.b64decode(vi["pub_key"]["value"])) == 33


def test_block_shape_and_errors(net):
    res = call(net, "block", {"height": "1"})["result"]
    assert set(res) == {"block_id", "block"}
    assert HEX64.match(res["block_id"]["hash"])
    assert res["block_id"]["parts"]["total"] == 1
    block = res["block"]
    h = block["header"]
    assert h["version"] == {"block": "11"}
    assert h["height"] == "1"
    assert h["chain_id"] == "gonka-testnet"
    assert h["last_block_id"] == {"hash": "", "parts": {"total": 0, "hash": ""}}
    assert block["last_commit"] == {"height": "0", "round": 0, "block_id": h["last_block_id"], "signatures": []}
    assert block["data"] == {"txs": []}
    assert block["evidence"] == {"evidence": []}
    assert h["data_hash"] == h["evidence_hash"] == "E3B0C44298FC1C149AFBF4C8996FB92427AE41E4649B934CA495991B7852B855"
    b2 = call(net, "block", {"height": "2"})["result"]["block"]
    assert b2["header"]["last_block_id"] == res["block_id"]
    sig = b2["last_commit"]["signatures"][0]
    assert sig["block_id_flag"] == 2
    assert HEX40.match(sig["validator_address"])
    assert len(base64.b64decode(sig["signature"])) == 64
    latest = call(net, "block")["result"]["block"]["header"]
    assert int(latest["height"]) >= 2
    assert TIME.match(latest["time"])
    err = call(net, "block", {"height": "100000000"})["error"]
    assert err["code"] == -32603
    assert err["message"] == "Internal error"
    assert re.match(r"^height 100000000 must be less than or equal to the current blockchain height \d+$", err["data"])
    assert call(net, "block", {"height": "0"})["error"]["data"] == "height must be greater than 0, but got 0"


def test_abci_query_shape(net):
    data = proto.inference_pb2.QueryGetMLNodeVersionRequest().SerializeToString().hex().upper()
    res = call(net, "abci_query", {"path": proto.Q_MLNODE_VERSION, "data": data, "height": "0", "prove": False})["result"]
    resp = res["response"]
    assert list(resp) == ["code", "log", "info", "index", "key", "value", "proofOps", "height", "codespace"]
    assert resp["code"] == 0
    assert resp["index"] == "0"
    assert resp["key"] is None
    assert resp["proofOps"] is None
    decoded = proto.inference_pb2.QueryGetMLNodeVersionResponse.FromString(base64.b64decode(resp["value"]))
    assert decoded.mlnode_version.current_version == "v0.3.8"
    missing = proto.inference_pb2.QueryGetPartialUpgradeRequest(height=77).SerializeToString().hex()
    resp = call(net, "abci_query", {"path": proto.Q_PARTIAL_UPGRADE, "data": missing})["result"]["response"]
    assert (resp["code"], resp["codespace"], resp["value"]) == (22, "sdk", None)
    assert resp["log"] == "rpc error: code = NotFound desc = not found: key not found"
    resp = call(net, "abci_query", {"path": "/no.such.Query/Thing", "data": ""})["result"]["response"]
    assert resp["code"] == 6
    assert "unknown query path" in resp["log"]
    resp = call(net, "abci_query", {"path": proto.Q_ACCOUNT, "data": "FFFF"})["result"]["response"]
    assert resp["code"] == 18
    assert "failed to decode" in resp["log"]


def test_queries_answer_not_ready_before_the_first_block():
    with Simnet(Genesis(), port=0, paused=True) as sim:
        data = {"path": proto.Q_PARTIAL_UPGRADE_ALL, "data": ""}
        resp = call(sim, "abci_query", data)["result"]["response"]
        assert (resp["code"], resp["codespace"]) == (26, "sdk")
        assert resp["log"].startswith("inference is not ready; please wait for first block")
        st = call(sim, "status")["result"]["sync_info"]
        assert st["latest_block_height"] == "0"
        assert st["latest_block_hash"] == ""
        assert st["latest_block_time"] == "1970-01-01T00:00:00Z"
        assert sim.produce_blocks(1) == 1
        assert call(sim, "abci_query", data)["result"]["response"]["code"] == 0


def test_validators_shape(net):
    res = call(net, "validators")["result"]
    assert int(res["block_height"]) >= 4
    assert res["count"] == "1"
    assert res["total"] == "1"
    v = res["validators"][0]
    assert set(v) == {"address", "pub_key", "voting_power", "proposer_priority"}
    assert v["voting_power"] == "10"
    assert call(net, "validators", {"page": "2"})["error"]["data"] == "page should be within [1, 1] range, given 2"


def test_tx_not_found_text(net):
    digest = bytes(range(32))
    err = call(net, "tx", {"hash": base64.b64encode(digest).decode(), "prove": False})["error"]
    assert err == {"code": -32603, "message": "Internal error", "data": f"tx ({digest.hex().upper()}) not found"}


# -- JSON-RPC envelope rules -----------------------------------------------------------------
def test_ids_are_echoed_with_their_type(net):
    assert call(net, "health", id_="abc") == {"jsonrpc": "2.0", "id": "abc", "result": {}}
    assert call(net, "health", id_=7)["id"] == 7
    assert post(net, '{"jsonrpc":"2.0","id":1.7,"method":"health"}', raw=True).json()["id"] == 1


@pytest.mark.parametrize(
    ("body", "code", "status"),
    [
        ("{not json", -32700, 500),
        ('"a string"', -32700, 500),
        ('{"jsonrpc":"2.0","id":true,"method":"health"}', -32700, 500),
        ('{"jsonrpc":"2.0","id":{"a":1},"method":"health"}', -32700, 500),
        ("[" + ",".join(['{"jsonrpc":"2.0","id":1,"method":"health"}'] * 11) + "]", -32600, 200),
    ],
)
def test_unreadable_requests_have_no_id_key(net, body, code, status):
    r = post(net, body, raw=True)
    assert r.status_code == status
    out = r.json()
    assert "id" not in out
    assert out["error"]["code"] == code
    assert out["error"]["message"] in ("Parse error. Invalid JSON", "Invalid Request")


def test_method_not_found_and_invalid_params_keep_the_id(net):
    r = call(net, "no_such_method", id_="q")
    assert r == {"jsonrpc": "2.0", "id": "q", "error": {"code": -32601, "message": "Method not found"}}
    assert call(net, "subscribe", {"query": "tm.event='NewBlock'"})["error"]["code"] == -32601  # ws only
    err = call(net, "block", {"height": 5}, id_=3)
    assert err["id"] == 3
    assert err["error"]["code"] == -32602
    assert (
        err["error"]["data"]
        == 'error converting json params to arguments: height: invalid 64-bit integer encoding "5", expected string'
    )


def test_notifications_and_batches(net):
    r = post(net, {"jsonrpc": "2.0", "method": "health"})
    assert r.status_code == 200
    assert r.text == ""
    one = post(net, [{"jsonrpc": "2.0", "id": 5, "method": "health"}, {"jsonrpc": "2.0", "method": "status"}]).json()
    assert one == {"jsonrpc": "2.0", "id": 5, "result": {}}  # a single response is not wrapped in an array
    many = post(net, [{"jsonrpc": "2.0", "id": i, "method": m} for i, m in enumerate(["health", "nope", "status"])]).json()
    assert [x["id"] for x in many] == [0, 1, 2]
    assert "error" in many[1]
    assert "node_info" in many[2]["result"]
    assert post(net, "[]", raw=True).text == ""
    bad_elem = post(net, '[{"jsonrpc":"2.0","id":1,"method":"health"},{"id":[1]}]', raw=True)
    assert bad_elem.status_code == 500
    assert bad_elem.json()["error"]["code"] == -32700


def test_uri_form(net):
    r = requests.get(f"{net.rpc_url}/block", params={"height": "1"}, timeout=5)
    assert r.status_code == 200
    assert r.json()["id"] == -1
    assert r.json()["result"]["block"]["header"]["height"] == "1"
    assert r.headers.get("Cache-Control") == "public, max-age=86400"
    r = requests.get(f"{net.rpc_url}/abci_query?path=%22{proto.Q_MLNODE_VERSION}%22&data=0x", timeout=5)
    assert r.json()["result"]["response"]["code"] == 0
    r = requests.get(f"{net.rpc_url}/block?height=0x10", timeout=5)
    assert r.status_code == 500
    assert r.json()["id"] == -1
    assert (
        r.json()["error"]["data"]
        == "error converting http params to arguments: height: got a hex string arg, but expected 'int64'"
    )
    r = requests.get(f"{net.rpc_url}/tx?hash=0x{'00' * 32}", timeout=5)
    assert r.status_code == 500
    assert r.json()["error"]["data"] == f"tx ({'00' * 32}) not found"
    r = requests.get(f"{net.rpc_url}/subscribe", timeout=5)
    assert r.status_code == 404
    assert r.json()["error"]["code"] == -32601
    r = requests.get(f"{net.rpc_url}/nowhere/else", timeout=5)
    assert r.status_code == 404
    assert r.text == "404 page not found"
    r = requests.get(f"{net.rpc_url}/websocket", timeout=5)
    assert r.status_code == 400


# -- websocket -------------------------------------------------------------------------------
UPSTREAM_QUERIES = [
    "tm.event='NewBlock'",
    "tm.event='Tx' AND message.module='inference'",
    "tm.event='Tx' AND message.module='bls'",
    "tm.event='Tx' AND message.action='/cosmos.authz.v1beta1.MsgExec'",
]


def test_websocket_subscribe_and_new_block_event(net):
    with connect(net.ws_url, open_timeout=5) as ws:
        for i, q in enumerate(UPSTREAM_QUERIES, start=1):
            ws.send(json.dumps({"jsonrpc": "2.0", "method": "subscribe", "id": str(i), "params": [q]}))
        # a block may be pushed to subscription 1 before subscriptions 2-4 are acknowledged (so may CometBFT):
        # read until every ack and one event arrived
        acks, event = [], None
        for _ in range(50):
            if len(acks) == len(UPSTREAM_QUERIES) and event is not None:
                break
            msg = json.loads(ws.recv(timeout=5))
            if msg.get("result") == {}:
                acks.append(msg["id"])
            elif "query" in msg.get("result", {}) and event is None:
                event = msg
        assert acks == ["1", "2", "3", "4"]
        assert event is not None
        assert event["id"] == "1"
        assert event["result"]["query"] == UPSTREAM_QUERIES[0]
        data = event["result"]["data"]
        assert data["type"] == "tendermint/event/NewBlock"
        height = int(data["value"]["block"]["header"]["height"])
        assert HEX64.match(data["value"]["block_id"]["hash"])
        assert data["value"]["result_finalize_block"]["validator_updates"] is None
        assert event["result"]["events"]["tm.event"] == ["NewBlock"]
        block = call(net, "block", {"height": str(height)})["result"]
        assert block["block"] == data["value"]["block"]
        assert block["block_id"] == data["value"]["block_id"]
        # numeric ids are echoed as numbers; errors and limits
        ws.send(json.dumps({"jsonrpc": "2.0", "method": "subscribe", "id": 9, "params": {"query": "tm.event='NewBlockHeader'"}}))
        ws.send(json.dumps({"jsonrpc": "2.0", "method": "subscribe", "id": "x", "params": ["tm.event = 'NewBlock'"]}))
        ws.send(json.dumps({"jsonrpc": "2.0", "method": "subscribe", "id": "y", "params": ["tm.event=NewBlock"]}))
        ws.send(json.dumps({"jsonrpc": "2.0", "method": "subscribe", "id": "z", "params": ["tm.event='Tx'"]}))
        ws.send("[1,2]")
        replies = _replies(ws, {9, "x", "y", "z", None})
        assert replies[9]["result"] == {}
        assert replies["x"]["error"]["data"] == "already subscribed"  # same query up to whitespace
        assert replies["z"]["error"]["data"] == "max_subscriptions_per_client 5 reached"
        assert replies["y"]["error"]["data"].startswith("failed to parse query: ")
        assert replies[None]["error"]["code"] == -32700
        ws.send(json.dumps({"jsonrpc": "2.0", "method": "unsubscribe_all", "id": "u", "params": {}}))
        assert _replies(ws, {"u"})["u"]["result"] == {}


def _replies(ws, ids: set) -> dict:
    """Read frames until a reply (non-event) for every id in `ids` arrived (bounded)."""
    out = {}
    for _ in range(500):
        if set(out) >= ids:
            return out
        msg = json.loads(ws.recv(timeout=5))
        if "query" not in (msg.get("result") or {}):
            out[msg.get("id")] = msg
    raise AssertionError(f"no replies for {ids - set(out)}; got {out}")


def _raw_ws_subscribe(port: int, query: str) -> socket.socket:
    """A minimal websocket client on a raw socket: handshake + one masked subscribe frame."""
    s = socket.create_connection(("127.0.0.1", port), timeout=5)
    key = base64.b64encode(b"0123456789abcdef").decode()
    s.sendall(
        f"GET /websocket HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
        f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n".encode()
    )
    assert b"101" in s.recv(4096).split(b"\r\n")[0]
    payload = json.dumps({"jsonrpc": "2.0", "method": "subscribe", "id": "1", "params": [query]}).encode()
    mask = b"\x01\x02\x03\x04"
    header = bytes([0x81, 0x80 | 126]) + struct.pack(">H", len(payload)) + mask
    s.sendall(header + bytes(b ^ mask[i % 4] for i, b in enumerate(payload)))
    return s


@pytest.mark.parametrize("how", ["fin", "rst"])
def test_abruptly_closed_websocket_does_not_disturb_others(net, how):
    hub = net.core.server.hub
    with connect(net.ws_url, open_timeout=5) as good:
        good.send(json.dumps({"jsonrpc": "2.0", "method": "subscribe", "id": "1", "params": ["tm.event='NewBlock'"]}))
        assert json.loads(good.recv(timeout=5)) == {"jsonrpc": "2.0", "id": "1", "result": {}}
        before = len(hub.conns)
        raw = _raw_ws_subscribe(net.port, "tm.event='NewBlock'")
        wait_until(lambda: len(hub.conns) == before + 1 and all(c.subs for c in hub.conns), timeout_s=5, what="raw subscriber")
        if how == "rst":
            raw.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        raw.close()  # no close frame
        wait_until(lambda: len(hub.conns) == before, timeout_s=10, what="server dropped the dead websocket")
        start = net.height
        heights = []
        for _ in range(200):
            msg = json.loads(good.recv(timeout=5))
            if "query" in msg.get("result", {}):
                heights.append(int(msg["result"]["data"]["value"]["block"]["header"]["height"]))
            if heights and heights[-1] >= start + 3:
                break
        assert heights
        assert heights[-1] >= start + 3
        assert heights == sorted(heights)
        assert len(heights) == len(set(heights))
    assert call(net, "health")["result"] == {}


def test_stop_releases_port_and_thread():
    import threading

    from harness.util.ports import port_is_listening

    before = {t.name for t in threading.enumerate()}
    sim = Simnet(Genesis(block_time_s=0.01), port=0).start()
    port = sim.port
    with connect(sim.ws_url, open_timeout=5) as ws:
        ws.send(json.dumps({"jsonrpc": "2.0", "method": "subscribe", "id": "1", "params": ["tm.event='NewBlock'"]}))
        assert json.loads(ws.recv(timeout=5))["result"] == {}
        sim.stop()  # with a live subscriber
    assert not port_is_listening(port)
    assert {t.name for t in threading.enumerate() if t.name.startswith("loop-simnet")} <= before
    sim.stop()  # idempotent
