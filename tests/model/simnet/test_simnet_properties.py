"""Property-based tests (hypothesis) of simnet's request parsing: for any input, the parsers raise only their
documented refusals; over HTTP and the websocket every request gets a JSON-RPC answer in CometBFT's shape, the
server keeps answering and the application state does not change."""

from __future__ import annotations

import json
import re

import pytest
import requests
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from websockets.sync.client import connect

from harness.model.simnet import Genesis, Simnet
from harness.model.simnet.numbers import INT64_MAX, INT64_MIN, IntSyntaxError, parse_int64
from harness.model.simnet.query import QueryParseError, parse_query
from harness.model.simnet.rpc_params import (
    ROUTES,
    ParamError,
    RpcRefusal,
    check_request,
    convert_json_params,
    convert_uri_params,
    parse_json,
    read_id,
)
from harness.util.wait import wait_until
from tests.model.simnet.simnet_support import app_state

GO_INT = re.compile(r"[+-]?[0-9]+")
METHODS = sorted(ROUTES)
json_scalars = st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20)
json_values = st.recursive(
    json_scalars, lambda c: st.lists(c, max_size=4) | st.dictionaries(st.text(max_size=8), c, max_size=4), max_leaves=20
)
ids = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**80), max_value=2**80)
    | st.floats()
    | st.text(max_size=10)
    | st.lists(st.integers(), max_size=2)
)
requests_ = st.fixed_dictionaries(
    {"jsonrpc": st.just("2.0"), "id": ids, "method": st.sampled_from(METHODS) | st.text(max_size=12), "params": json_values}
)


def to_text(obj) -> str:
    """JSON text as a client might send it, NaN/Infinity included (Python's encoder writes them)."""
    return json.dumps(obj, allow_nan=True)


def refused(fn, *args) -> RpcRefusal | None:
    try:
        fn(*args)
    except RpcRefusal as e:
        return e
    return None


# -- pure parsers ------------------------------------------------------------------------------------
@given(st.text(max_size=200) | st.binary(max_size=200).map(lambda b: b.decode("latin-1")))
def test_parse_json_raises_only_refusals(text):
    refusal = refused(parse_json, text)
    if refusal is not None:
        assert (refusal.code, refusal.http_status) in ((-32700, 500), (-32600, 400))


@given(requests_)
def test_request_pipeline_raises_only_documented_errors(req):
    text = to_text(req)
    refusal = refused(parse_json, text)  # NaN, Infinity: not JSON as Go reads it
    if refusal is None:
        parsed = parse_json(text)
        refusal = refused(check_request, parsed) or refused(read_id, parsed)
    if refusal is not None:
        assert refusal.code == -32700  # generated requests are shallow: never a nesting refusal
        return
    is_request, id_ = read_id(parsed)
    if is_request:
        assert isinstance(id_, str) or (isinstance(id_, int) and INT64_MIN <= id_ <= INT64_MAX)
    if parsed.get("method") in ROUTES:
        try:
            convert_json_params(parsed["method"], parsed.get("params"))
        except ParamError:
            pass


@given(st.text(max_size=30))
def test_parse_int64_is_go_parseint(text):
    expected = int(text) if GO_INT.fullmatch(text) and INT64_MIN <= int(text) <= INT64_MAX else None
    try:
        assert parse_int64(text) == expected
    except IntSyntaxError:
        assert expected is None


@given(
    st.sampled_from(METHODS),
    st.dictionaries(
        st.sampled_from(["height", "hash", "path", "data", "query", "prove", "page", "tx"]), st.text(max_size=30), max_size=4
    ),
)
def test_uri_arguments_raise_only_param_errors(method, query):
    try:
        convert_uri_params(method, query)
    except ParamError:
        pass


@given(st.text(max_size=80))
def test_event_query_parser_refuses_cleanly_and_round_trips(text):
    try:
        q = parse_query(text)
    except QueryParseError:
        return
    again = parse_query(q.canonical)
    assert again.conditions == q.conditions


# -- servers -------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def net():
    with Simnet(Genesis(block_time_s=0.1), port=0) as sim:
        wait_until(lambda: sim.height >= 2, timeout_s=10, what="simnet height >= 2")
        yield sim


SAFE = {
    "health",
    "status",
    "block",
    "header",
    "validators",
    "abci_info",
    "net_info",
    "genesis",
    "commit",
    "blockchain",
    "block_results",
    "consensus_params",
    "num_unconfirmed_txs",
    "unconfirmed_txs",
    "abci_query",
    "tx",
    "tx_search",
    "block_search",
    "block_by_hash",
    "header_by_hash",
    "check_tx",
    "consensus_state",
    "dump_consensus_state",
}
server_requests = st.fixed_dictionaries(
    {"jsonrpc": st.just("2.0"), "id": ids, "method": st.sampled_from(sorted(SAFE)) | st.text(max_size=12), "params": json_values}
)


def check_reply(reply: dict) -> None:
    assert reply["jsonrpc"] == "2.0"
    assert ("result" in reply) != ("error" in reply)
    if "error" in reply:
        assert reply["error"]["code"] in (-32700, -32600, -32601, -32602, -32603)
        assert isinstance(reply["error"]["message"], str)


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(st.lists(server_requests, min_size=1, max_size=3) | server_requests.map(lambda r: [r]))
def test_http_answers_every_request_in_cometbft_shape(net, batch):
    before = app_state(net)
    body = to_text(batch if len(batch) > 1 else batch[0])
    r = requests.post(net.rpc_url, data=body.encode("utf-8", "surrogatepass"), timeout=15)
    assert r.status_code in (200, 400, 500), r.text[:200]
    if r.text:
        reply = r.json()
        for one in reply if isinstance(reply, list) else [reply]:
            check_reply(one)
    assert requests.post(net.rpc_url, json={"jsonrpc": "2.0", "id": 1, "method": "health"}, timeout=5).json()["result"] == {}
    assert app_state(net) == before


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(st.lists(server_requests.map(to_text) | st.text(max_size=60), min_size=1, max_size=8))
def test_websocket_answers_and_keeps_its_subscription(net, frames):
    with connect(net.ws_url, open_timeout=5, max_size=None) as ws:
        ws.send(json.dumps({"jsonrpc": "2.0", "method": "subscribe", "id": "sub", "params": ["tm.event='NewBlock'"]}))
        assert json.loads(ws.recv(timeout=5))["result"] == {}
        for frame in frames:
            ws.send(frame.encode("utf-8", "surrogatepass").decode("utf-8", "replace"))
        ws.send(json.dumps({"jsonrpc": "2.0", "id": "end", "method": "health"}))
        seen_before_end = 0
        while True:
            msg = json.loads(ws.recv(timeout=15))
            if msg.get("id") == "end":
                break
            if msg.get("id") == "sub" and "result" in msg:
                seen_before_end += 1
                continue
            check_reply(msg)
        while True:  # the subscription survived every frame: the next NewBlock still arrives
            msg = json.loads(ws.recv(timeout=15))
            if msg.get("id") == "sub" and "result" in msg:
                break
