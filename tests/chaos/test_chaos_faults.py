"""Each chaos fault does what it claims to a real client, against a real upstream (aiohttp JSON-RPC + websocket)."""

from __future__ import annotations

import http.client
import json
import socket
import threading
import time
from collections.abc import Iterator

import pytest
import requests
from websockets.exceptions import ConnectionClosedError
from websockets.sync.client import connect as ws_connect

from harness.chaos import ChaosProxy, Eof, FaultWindowSpec, Outcome, Target
from harness.chaos.testing import RpcUpstream
from harness.errors import ConfigError
from harness.util.wait import wait_until


def rpc(method: str, rid: int = 1) -> dict:
    return {"jsonrpc": "2.0", "id": rid, "method": method, "params": {}}


@pytest.fixture
def proxy(upstream: RpcUpstream) -> Iterator[ChaosProxy]:
    before = {t.name for t in threading.enumerate()}
    with ChaosProxy(upstream.url, seed=7) as p:
        yield p
    # nothing leaks: the proxy's loop thread is gone (and a test's websocket client's keepalive thread, which ends
    # once the client saw its connection close) and its port is closed
    wait_until(
        lambda: not {t.name for t in threading.enumerate()} - before,
        timeout_s=5,
        what="no thread left over from the test",
        evidence=lambda: str({t.name for t in threading.enumerate()} - before),
    )
    with pytest.raises(OSError), socket.create_connection(("127.0.0.1", p.port), timeout=1):
        pass


def post_once(url: str, method: str, timeout_s: float = 5.0) -> http.client.HTTPResponse:
    """One request on a fresh http.client connection; returns the response or raises what the client saw."""
    host, port = url.removeprefix("http://").split(":")
    conn = http.client.HTTPConnection(host, int(port), timeout=timeout_s)
    try:
        conn.request("POST", "/", body=json.dumps(rpc(method)), headers={"Content-Type": "application/json"})
        resp = conn.getresponse()
        resp.read()
        return resp
    finally:
        conn.close()


def outcomes(proxy: ChaosProxy, kind: str = "http") -> list[str]:
    return [r.outcome for r in proxy.history() if r.kind == kind]


def test_keep_alive_requests_pass_through_on_one_connection(proxy: ChaosProxy) -> None:
    with requests.Session() as s:
        for i in range(5):
            assert s.post(proxy.url, json=rpc("status", i)).json()["id"] == i
        batch = s.post(proxy.url, json=[rpc("status", 1), rpc("abci_query", 2)]).json()
        assert [d["id"] for d in batch] == [1, 2]
        assert s.get(proxy.url + "/status").json()["result"]["sync_info"]["latest_block_height"]
    recs = proxy.history()
    assert len(recs) == 7
    assert {r.conn_id for r in recs} == {recs[0].conn_id}, "keep-alive: one client connection carries every request"
    assert [r.methods for r in recs][-2:] == [("status", "abci_query"), ("status",)]
    assert all(r.outcome == Outcome.OK and r.status == 200 and r.bytes_out > 0 for r in recs)


def test_chunked_request_body_is_forwarded(proxy: ChaosProxy) -> None:
    body = json.dumps(rpc("abci_query", 5)).encode()
    conn = http.client.HTTPConnection("127.0.0.1", proxy.port, timeout=5)
    conn.request("POST", "/", body=iter([body[:10], body[10:]]), encode_chunked=True, headers={"Transfer-Encoding": "chunked"})
    resp = conn.getresponse()
    assert json.loads(resp.read())["id"] == 5
    conn.close()
    assert proxy.history()[-1].methods == ("abci_query",)


def test_eof_client_sees_remote_disconnected(proxy: ChaosProxy) -> None:
    proxy.add_fault({"fault": "eof", "window": {"max_count": 1}})
    with pytest.raises(http.client.RemoteDisconnected):
        post_once(proxy.url, "status")
    assert post_once(proxy.url, "status").status == 200
    assert outcomes(proxy) == ["eof", "ok"]


def test_reset_client_sees_connection_reset(proxy: ChaosProxy) -> None:
    proxy.add_fault({"fault": "reset", "window": {"max_count": 1}})
    with pytest.raises(ConnectionResetError) as info:
        post_once(proxy.url, "status")
    assert not isinstance(info.value, http.client.RemoteDisconnected), "RST must not look like a clean EOF"
    assert outcomes(proxy) == ["reset"]


def test_ws_drop_client_sees_1006(proxy: ChaosProxy, upstream: RpcUpstream) -> None:
    with ws_connect(proxy.ws_url, open_timeout=5) as ws:
        ws.send(json.dumps({"jsonrpc": "2.0", "method": "subscribe", "id": "1", "params": ["tm.event='NewBlock'"]}))
        assert json.loads(ws.recv(timeout=5))["id"] == "1"
        upstream.new_block(41)
        assert json.loads(ws.recv(timeout=5))["result"]["data"]["value"]["block"]["header"]["height"] == "41"
        wait_until(lambda: proxy.height == 41, timeout_s=5, what="proxy learns the height from NewBlock")
        proxy.add_fault({"fault": "ws_drop", "window": {"max_count": 1}})
        with pytest.raises(ConnectionClosedError) as info:
            ws.recv(timeout=5)
    assert info.value.rcvd is None, "no close frame: the client reports 1006 (abnormal closure)"
    assert "1006" in str(info.value) or "no close frame" in str(info.value)
    wait_until(lambda: "ws_dropped" in outcomes(proxy, "websocket"), timeout_s=5, what="ws_dropped recorded")


def test_blackhole_hits_the_client_timeout(proxy: ChaosProxy) -> None:
    proxy.add_fault({"fault": "blackhole", "window": {"max_count": 1}, "params": {"hold_ms": 30_000}})
    t0 = time.monotonic()
    with pytest.raises(requests.exceptions.ReadTimeout):
        requests.post(proxy.url, json=rpc("status"), timeout=0.5)
    assert 0.45 < time.monotonic() - t0 < 5
    wait_until(lambda: outcomes(proxy) == ["timeout"], timeout_s=5, what="blackholed call closed after the client gave up")


def test_blackhole_releases_when_its_window_ends(proxy: ChaosProxy) -> None:
    # the window ends by an event (the height moving past it), not by the machine's speed
    proxy.set_height(5)
    proxy.add_fault({"fault": "blackhole", "window": {"end_height": 5}})
    outcome: dict[str, object] = {}

    def held_call() -> None:
        try:
            outcome["status"] = post_once(proxy.url, "status", timeout_s=30).status
        except http.client.RemoteDisconnected as e:
            outcome["error"] = e

    t = threading.Thread(target=held_call)
    t.start()
    wait_until(
        lambda: any(r.fault == "blackhole" and r.end_ms is None for r in proxy.history()),
        timeout_s=10,
        what="the call held by the blackhole",
    )
    proxy.set_height(6)
    t.join(20)
    assert not t.is_alive(), "the held call was not released when the window ended"
    assert isinstance(outcome.get("error"), http.client.RemoteDisconnected), outcome
    assert post_once(proxy.url, "status").status == 200


@pytest.mark.parametrize(("latency_ms", "jitter_ms"), [(150, 0), (200, 50)])
def test_latency_within_tolerance(proxy: ChaosProxy, latency_ms: int, jitter_ms: int) -> None:
    proxy.add_fault(
        {"fault": "latency", "params": {"latency_ms": latency_ms, "jitter_ms": jitter_ms}, "window": {"max_count": 3}}
    )
    with requests.Session() as s:
        for _ in range(3):
            t0 = time.monotonic()
            assert s.post(proxy.url, json=rpc("status")).status_code == 200
            took_ms = (time.monotonic() - t0) * 1000
            assert took_ms >= latency_ms - jitter_ms  # delayed at least that long (the upper side is the machine's)
        assert s.post(proxy.url, json=rpc("status")).status_code == 200
    # the fault ended after max_count: the fourth call went through without it
    assert [r.fault for r in proxy.history()] == ["latency"] * 3 + [None]


def test_close_idle_closes_an_idle_keep_alive_connection(proxy: ChaosProxy) -> None:
    conn = http.client.HTTPConnection("127.0.0.1", proxy.port, timeout=5)
    conn.request("POST", "/", body=json.dumps(rpc("status")))
    conn.getresponse().read()
    proxy.add_fault({"fault": "close_idle", "params": {"idle_ms": 100}, "window": {"max_duration_ms": 5000}})
    wait_until(lambda: "closed_idle" in [r.outcome for r in proxy.history()], timeout_s=5, what="idle connection closed")
    rec = next(r for r in proxy.history() if r.outcome == "closed_idle")
    assert rec.end_ms - proxy.history()[0].end_ms >= 100

    def reuse() -> None:
        conn.request("POST", "/", body=json.dumps(rpc("status")))
        conn.getresponse()

    with pytest.raises(ConnectionError):  # the pooled connection is dead (EOF, EPIPE or RST depending on timing)
        reuse()
    conn.close()


def test_refuse_resets_new_connections_only_while_active(proxy: ChaosProxy) -> None:
    proxy.add_fault({"fault": "refuse", "window": {"max_count": 2}})
    for _ in range(2):
        with pytest.raises((ConnectionResetError, BrokenPipeError)):
            post_once(proxy.url, "status")
    assert post_once(proxy.url, "status").status == 200
    assert [r.outcome for r in proxy.history()] == ["refused", "refused", "ok"]


def test_nth_request_of_a_method(proxy: ChaosProxy) -> None:
    proxy.add_fault({"fault": "eof", "target": {"method": "abci_query", "nth": 3}, "window": {"max_count": 1}})
    seen = []
    for method in ["status", "abci_query", "abci_query", "status", "abci_query", "abci_query"]:
        try:
            post_once(proxy.url, method)
            seen.append("ok")
        except http.client.RemoteDisconnected:
            seen.append("eof")
    assert seen == ["ok", "ok", "ok", "ok", "eof", "ok"]


def test_method_target_matches_any_element_of_a_batch(proxy: ChaosProxy) -> None:
    proxy.add_fault({"fault": "eof", "target": {"methods": ["tx"]}, "window": {"max_count": 5}})
    assert requests.post(proxy.url, json=[rpc("status"), rpc("abci_query")], timeout=5).status_code == 200
    with pytest.raises(requests.exceptions.ConnectionError):
        requests.post(proxy.url, json=[rpc("status"), rpc("tx")], timeout=5)
    assert [r.fault for r in proxy.history()] == [None, "eof"]


def test_connection_target_hits_one_connection_only(proxy: ChaosProxy) -> None:
    with requests.Session() as a, requests.Session() as b:
        a.post(proxy.url, json=rpc("status"))
        b.post(proxy.url, json=rpc("status"))
        conn_b = proxy.history()[-1].conn_id
        proxy.add_fault(Eof(), target=Target(connection_id=conn_b), window=FaultWindowSpec(max_duration_ms=10_000))
        for _ in range(3):
            assert a.post(proxy.url, json=rpc("status")).status_code == 200
        with pytest.raises(requests.exceptions.ConnectionError):
            b.post(proxy.url, json=rpc("status"))
    failed = [r for r in proxy.history() if r.outcome == "eof"]
    assert [r.conn_id for r in failed] == [conn_b]


def test_time_window_ends_by_itself(proxy: ChaosProxy) -> None:
    # no request needs to land inside a short window: the proxy's own timer must end it
    proxy.add_fault({"fault": "eof", "window": {"end_ms": 300}})
    wait_until(lambda: proxy.faults()[0]["state"] == "ended", timeout_s=10, what="the eof window ends by itself")
    assert post_once(proxy.url, "status").status == 200
    assert [r.fault for r in proxy.history()] == [None]


def test_height_window(proxy: ChaosProxy) -> None:
    proxy.add_fault({"fault": "eof", "window": {"start_height": 5, "end_height": 6}})
    results = {}
    for h in (4, 5, 6, 7):
        proxy.set_height(h)
        try:
            results[h] = post_once(proxy.url, "abci_query").status
        except http.client.RemoteDisconnected:
            results[h] = "eof"
    assert results == {4: 200, 5: "eof", 6: "eof", 7: 200}


def test_unbounded_fault_is_refused(proxy: ChaosProxy) -> None:
    with pytest.raises(ConfigError, match=r"window: fault 'eof' has no end"):
        proxy.add_fault(Eof())
    assert proxy.faults() == []
