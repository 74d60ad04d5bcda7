"""simnet's boundaries under hostile input, as a corpus: every malformed JSON-RPC request over HTTP (POST and URI
form) and over the websocket gets a JSON-RPC error in CometBFT's shape (never a traceback, never a dropped
connection), the websocket keeps its subscriptions, the server keeps answering and the application state is
unchanged. Flags: `--block-time nan` is bad input (exit 2)."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
import requests
from websockets.sync.client import connect

from harness.model.simnet import Genesis, Simnet
from harness.model.simnet.rpc_params import MAX_DEPTH
from harness.util.wait import wait_until
from tests.model.simnet.simnet_support import app_state

PARSE, INVALID, NOT_FOUND, PARAMS = -32700, -32600, -32601, -32602
DEEP_LIST = "[" * 100_000 + "]" * 100_000
DEEP_OBJECT = '{"a":' * (MAX_DEPTH + 1) + "1" + "}" * (MAX_DEPTH + 1)
# (name, body, HTTP status, JSON-RPC code, id in the reply: None = no id key)
HTTP_CORPUS = [
    ("deep list", DEEP_LIST, 400, INVALID, None),
    ("deep object", DEEP_OBJECT, 400, INVALID, None),
    ("deep params", '{"jsonrpc":"2.0","id":1,"method":"status","params":' + DEEP_LIST[:2000] + "}", 400, INVALID, None),
    ("id 1e400", '{"jsonrpc":"2.0","id":1e400,"method":"status"}', 500, PARSE, None),
    ("id Infinity", '{"jsonrpc":"2.0","id":Infinity,"method":"status"}', 500, PARSE, None),
    ("id -Infinity", '{"jsonrpc":"2.0","id":-Infinity,"method":"status"}', 500, PARSE, None),
    ("id NaN", '{"jsonrpc":"2.0","id":NaN,"method":"status"}', 500, PARSE, None),
    ("id 5000 digits", '{"jsonrpc":"2.0","id":' + "9" * 5000 + ',"method":"status"}', 500, PARSE, None),
    ("id 2^70", '{"jsonrpc":"2.0","id":1180591620717411303424,"method":"status"}', 500, PARSE, None),
    ("id true", '{"jsonrpc":"2.0","id":true,"method":"status"}', 500, PARSE, None),
    ("id object", '{"jsonrpc":"2.0","id":{},"method":"status"}', 500, PARSE, None),
    ("not json", "{", 500, PARSE, None),
    ("empty body", "", 500, PARSE, None),
    ("bad escape", '{"jsonrpc":"2.0","id":1,"method":"\\q"}', 500, PARSE, None),
    ("unterminated string", '{"jsonrpc":"2.0","id":1,"method":"sta', 500, PARSE, None),
    ("invalid utf-8", b'{"jsonrpc":"2.0","id":1,"method":"\xff\xfe"}', 200, NOT_FOUND, 1),
    ("lone surrogate", '{"jsonrpc":"2.0","id":"\\ud800","method":"\\udfff"}', 200, NOT_FOUND, "\ud800"),
    ("number in params 1e999", '{"jsonrpc":"2.0","id":1,"method":"block","params":{"height":1e999}}', 500, PARSE, None),
    ("method number", '{"jsonrpc":"2.0","id":1,"method":5}', 500, PARSE, None),
    ("array of numbers", "[1,2]", 500, PARSE, None),
    ("batch of 11", json.dumps([{"jsonrpc": "2.0", "id": i, "method": "health"} for i in range(11)]), 200, INVALID, None),
    ("height as number", '{"jsonrpc":"2.0","id":1,"method":"block","params":{"height":5}}', 200, PARAMS, 1),
    ("height 1_0", '{"jsonrpc":"2.0","id":1,"method":"block","params":{"height":"1_0"}}', 200, PARAMS, 1),
    ("height with spaces", '{"jsonrpc":"2.0","id":1,"method":"block","params":{"height":" 2 "}}', 200, PARAMS, 1),
    ("height over int64", '{"jsonrpc":"2.0","id":1,"method":"block","params":{"height":"9223372036854775808"}}', 200, PARAMS, 1),
    ("height unicode digits", '{"jsonrpc":"2.0","id":1,"method":"block","params":{"height":"\\u0663"}}', 200, PARAMS, 1),
    ("hex with spaces", '{"jsonrpc":"2.0","id":1,"method":"abci_query","params":{"path":"/x","data":"0a 0b"}}', 200, PARAMS, 1),
    ("base64 junk", '{"jsonrpc":"2.0","id":1,"method":"tx","params":{"hash":"!!"}}', 200, PARAMS, 1),
    ("params a string", '{"jsonrpc":"2.0","id":1,"method":"block","params":"5"}', 200, PARAMS, 1),
    ("params too many", '{"jsonrpc":"2.0","id":1,"method":"block","params":["1","2"]}', 200, PARAMS, 1),
    ("unknown method", '{"jsonrpc":"2.0","id":1,"method":"no_such_method"}', 200, NOT_FOUND, 1),
]
URI_CORPUS = [
    ('/abci_query?path="\\q"', "path"),
    ('/abci_query?path="unterminated', "path"),
    ("/block?height=1_0", "invalid syntax"),
    ("/block?height=0x10", "hex string"),
    ("/block?height=99999999999999999999", "out of range"),
    ("/tx?hash=zz", "invalid value"),
    ("/tx?hash=0xzz", "invalid hex"),
    ("/tx_search?query=%22tx.height%3D1%22&prove=maybe", "true or false"),
]


@pytest.fixture(scope="module")
def net():
    with Simnet(Genesis(block_time_s=0.05), port=0) as sim:
        wait_until(lambda: sim.height >= 2, timeout_s=10, what="simnet height >= 2")
        yield sim


def alive(net) -> None:
    r = requests.post(net.rpc_url, json={"jsonrpc": "2.0", "id": 7, "method": "status", "params": {}}, timeout=5)
    assert r.status_code == 200
    assert r.json()["id"] == 7


def test_http_corpus(net):
    before = app_state(net)
    for name, body, status, code, id_ in HTTP_CORPUS:
        data = body if isinstance(body, bytes) else body.encode("utf-8", "surrogatepass")
        r = requests.post(net.rpc_url, data=data, timeout=10)
        assert r.status_code == status, (name, r.status_code, r.text[:300])
        assert r.headers["Content-Type"] == "application/json", name
        reply = r.json()
        assert reply["jsonrpc"] == "2.0", name
        assert reply["error"]["code"] == code, (name, reply)
        assert ("id" in reply) == (id_ is not None), (name, reply)
        if id_ is not None:
            assert reply["id"] == id_, (name, reply)
        assert "Traceback" not in r.text, name
        alive(net)
    assert app_state(net) == before


def test_oversized_body_is_400(net):
    r = requests.post(net.rpc_url, data=b" " * 1_000_001, timeout=10)
    assert r.status_code == 400
    assert r.json()["error"]["code"] == INVALID
    alive(net)


@pytest.mark.parametrize(("path", "text"), URI_CORPUS)
def test_uri_corpus(net, path, text):
    r = requests.get(net.rpc_url + path, timeout=10)
    assert r.status_code == 500  # CometBFT answers URI-form argument errors with 500 and a JSON-RPC body
    err = r.json()["error"]
    assert (err["code"], r.json()["id"]) == (PARAMS, -1)
    assert text in err["data"], err
    alive(net)


def test_websocket_corpus_keeps_the_connection_and_its_subscription(net):
    frames = [body for _, body, *_ in HTTP_CORPUS if not isinstance(body, bytes) and len(body) < 300_000]
    frames += ["[]", '[{"jsonrpc":"2.0","id":1,"method":"status"}]', "null", '"x"']
    with connect(net.ws_url, open_timeout=5, max_size=None) as ws:
        ws.send(json.dumps({"jsonrpc": "2.0", "method": "subscribe", "id": "sub", "params": ["tm.event='NewBlock'"]}))
        assert json.loads(ws.recv(timeout=5))["result"] == {}
        for frame in frames:
            ws.send(frame.encode("utf-8", "surrogatepass").decode("utf-8", "replace"))
        ws.send(json.dumps({"jsonrpc": "2.0", "id": "last", "method": "health"}))
        errors, last, events = 0, None, 0
        while last is None:
            msg = json.loads(ws.recv(timeout=10))
            if msg.get("id") == "last":
                last = msg
            elif msg.get("id") == "sub" and "result" in msg:
                events += 1
            else:
                assert "error" in msg, msg
                errors += 1
        assert last == {"jsonrpc": "2.0", "id": "last", "result": {}}
        assert errors >= len(frames) - 1  # the batch of 11 over the websocket is one array frame -> one error
        start = events
        while events < start + 2:  # the subscription still delivers
            msg = json.loads(ws.recv(timeout=10))
            events += msg.get("id") == "sub" and "result" in msg
    alive(net)


def test_block_time_nan_is_bad_input():
    for bad in ("nan", "inf", "-1", "61"):
        out = subprocess.run(
            [sys.executable, "-m", "harness", "simnet", "--rpc-port", "0", "--block-time", bad],
            capture_output=True,
            text=True,
            timeout=30,
        )
        assert out.returncode == 2, (bad, out.stderr)
        assert "--block-time" in out.stderr, bad
        assert "Traceback" not in out.stderr


@pytest.mark.parametrize(
    ("field", "value"),
    [("block_time_s", float("nan")), ("voting_period_s", float("inf")), ("min_deposit", True), ("epoch_length", 2.5)],
)
def test_genesis_refuses_non_finite_and_non_integers(field, value):
    from harness.errors import ConfigError

    with pytest.raises(ConfigError, match=field):
        Genesis(**{field: value})
