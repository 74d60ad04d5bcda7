"""The chaos proxy as its own process (what the embedded backend runs): the same decisions as in process for one
seed, the surface the chaos driver uses, and nothing left once stopped."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest
import requests

from harness.chaos import ChaosProxy, ChaosProxyProcess
from harness.chaos.testing import RpcUpstream
from harness.errors import ConfigError
from harness.util.ports import port_is_listening
from harness.util.wait import wait_until

SEQUENCE = ["status", "abci_query", "abci_query", "tx", "status"] * 6
FAULTS = [
    {"fault": "eof", "target": {"probability": 0.3}, "window": {"max_duration_ms": 60_000}},
    {"fault": "reset", "target": {"method": "abci_query", "probability": 0.2}, "window": {"max_count": 50}},
]


@pytest.fixture(scope="module")
def upstream() -> Iterator[RpcUpstream]:
    with RpcUpstream() as up:
        yield up


def call(url: str, method: str) -> str:
    try:
        r = requests.post(url, json={"jsonrpc": "2.0", "id": 1, "method": method}, timeout=5)
        return "ok" if r.status_code == 200 else f"http {r.status_code}"
    except requests.exceptions.ConnectionError:
        return "failed"


def run(proxy) -> tuple[list[tuple], list[str]]:
    for spec in FAULTS:
        proxy.add_fault(spec)
    seen = [call(proxy.url, m) for m in SEQUENCE]
    return [d.key() for d in proxy.decisions()], seen


def test_a_proxy_process_decides_as_the_in_process_proxy_for_the_same_seed(upstream, tmp_path):
    with ChaosProxy(upstream.url, seed=4321) as p:
        keys_in, seen_in = run(p)
    with ChaosProxyProcess(upstream.url, seed=4321, log_dir=tmp_path) as p:
        assert p.seed == 4321
        keys_out, seen_out = run(p)
        assert len([r for r in p.history() if r.kind == "http"]) == len(SEQUENCE)  # every call, one record each
    assert keys_out == keys_in
    assert seen_out == seen_in
    assert "failed" in seen_out  # the faults did apply


def test_the_driver_surface_over_the_control_api(upstream, tmp_path):
    with ChaosProxyProcess(upstream.url, seed=9, log_dir=tmp_path) as p, requests.Session() as s:
        assert p.url.startswith("http://127.0.0.1:")
        assert p.control_url.startswith("http://127.0.0.1:")
        assert p.ws_url == p.url.replace("http://", "ws://") + "/websocket"
        s.post(p.url, json={"jsonrpc": "2.0", "id": 1, "method": "status"}, timeout=5).raise_for_status()
        assert len(p.connections()) == 1  # the session's keep-alive connection
        p.set_height(7)
        assert p.height == 7
        fid = p.add_fault({"fault": "eof", "target": {"method": "status"}, "window": {"max_count": 1}})
        assert [f["id"] for f in p.faults()] == [fid]
        assert call(p.url, "status") == "failed"
        assert call(p.url, "status") == "ok"  # max_count 1: used up
        assert [r.fault for r in p.history() if r.kind == "http"] == [None, "eof", None]
        with pytest.raises(ConfigError, match="window"):  # refused here, before anything is sent
            p.add_fault({"fault": "eof"})
        p.clear()
        assert p.faults() == []
        p.reset()
        assert p.history() == []
        ports = [p.port, int(p.control_url.rsplit(":", 1)[1])]
        pid = p.proc.pid
    wait_until(lambda: not any(port_is_listening(x) for x in ports), timeout_s=10, what="the proxy's ports closed")
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)


def test_a_proxy_process_on_a_given_port_names_it_before_it_is_ready(upstream, tmp_path):
    from harness.util.ports import free_port

    port = free_port()
    p = ChaosProxyProcess(upstream.url, listen_port=port, log_dir=tmp_path)
    assert p.url == f"http://127.0.0.1:{port}"  # an API node config can name it before it starts
    with p:
        assert call(p.url, "status") == "ok"
