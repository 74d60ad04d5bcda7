"""Chaos proxy: seeded replay, malformed input, control API, CLI process, the proxy process a testnet runs, checkers."""

from __future__ import annotations

import json
import os
import signal
import socket
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from harness.chaos import ChaosControl, ChaosProxy, ChaosProxyProcess, ChaosReport, ProxiedRequest
from harness.chaos.checkers import hung_calls, longest_failure_streak, pool_back_to_n, time_to_heal_ms
from harness.chaos.testing import RpcUpstream
from harness.errors import ConfigError
from harness.util.ports import free_port, port_is_listening
from harness.util.process import ManagedProcess
from harness.util.wait import wait_until
from tests.support import REPO


@pytest.fixture
def proxy(upstream: RpcUpstream) -> Iterator[ChaosProxy]:
    with ChaosProxy(upstream.url, seed=3) as p:
        yield p


def call(url: str, method: str) -> str:
    try:
        r = requests.post(url, json={"jsonrpc": "2.0", "id": 1, "method": method}, timeout=5)
        return "ok" if r.status_code == 200 else f"http {r.status_code}"
    except requests.exceptions.ConnectionError:
        return "failed"


SEQUENCE = ["status", "abci_query", "abci_query", "tx", "status"] * 8


def run_sequence(upstream: RpcUpstream, seed: int, proxy=None) -> tuple[list[tuple], list[str]]:
    """SEQUENCE through a proxy with two seeded faults (default a new in-process ChaosProxy with `seed`)."""
    with proxy or ChaosProxy(upstream.url, seed=seed) as p:
        p.add_fault({"fault": "eof", "target": {"probability": 0.3}, "window": {"max_duration_ms": 60_000}})
        p.add_fault({"fault": "reset", "target": {"method": "abci_query", "probability": 0.2}, "window": {"max_count": 50}})
        seen = [call(p.url, m) for m in SEQUENCE]
        assert len([r for r in p.history() if r.kind == "http"]) == len(SEQUENCE)  # every call, one record each
        return [d.key() for d in p.decisions()], seen


def test_same_seed_same_decisions_and_other_seed_differs(upstream: RpcUpstream) -> None:
    keys_a, seen_a = run_sequence(upstream, 1234)
    keys_b, seen_b = run_sequence(upstream, 1234)
    keys_c, _ = run_sequence(upstream, 1235)
    assert len(keys_a) == 2 * len(SEQUENCE), "exactly one draw per request per fault"
    assert keys_a == keys_b
    assert seen_a == seen_b
    assert "failed" in seen_a
    assert "ok" in seen_a
    assert keys_a != keys_c


def test_malformed_input_never_crashes_or_disturbs_others(proxy: ChaosProxy) -> None:
    stop = threading.Event()
    results: list[str] = []

    def steady() -> None:
        with requests.Session() as s:
            while not stop.is_set() and len(results) < 2000:
                results.append("ok" if s.post(proxy.url, json={"method": "status", "id": 1}, timeout=5).ok else "bad")

    worker = threading.Thread(target=steady)
    worker.start()
    try:
        answers = []
        for payload in [
            b"\x00\xff\x13garbage\r\n\r\n",
            b"GET\r\n\r\n",
            b"POST / HTTP/1.1\r\nContent-Length: 100\r\n\r\nabc",  # truncated body
            b"POST / HTTP/1.1\r\nHost: x\r\n",  # truncated head
            b"POST / HTTP/1.1\r\nContent-Length: nope\r\n\r\n",
            b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
            b"GET / HTTP/1.1\r\nX-Big: " + b"a" * (70 * 1024) + b"\r\n\r\n",  # oversized headers
        ]:
            with socket.create_connection(("127.0.0.1", proxy.port), timeout=5) as s:
                try:
                    s.sendall(payload)
                    s.shutdown(socket.SHUT_WR)
                    answers.append(s.recv(200).split(b"\r\n")[0])
                except ConnectionError:
                    answers.append(b"reset")
        wait_until(lambda: len(results) >= 20, timeout_s=10, what="steady client made progress")
    finally:
        stop.set()
        worker.join(10)
    assert answers[0].startswith(b"HTTP/1.1 400")
    assert answers[-1].startswith(b"HTTP/1.1 431") or answers[-1] in (b"reset", b"")
    assert set(results) == {"ok"}
    assert call(proxy.url, "status") == "ok"
    bad = [r for r in proxy.history() if r.outcome == "bad_request"]
    assert len(bad) >= 6
    assert all(r.error for r in bad)
    assert not [r for r in proxy.history() if r.outcome == "proxy_error"]


def test_control_api_happy_path(proxy: ChaosProxy) -> None:
    ctl = ChaosControl(proxy.control_url)
    fid = ctl.add_fault({"fault": "eof", "target": {"method": "status"}, "window": {"max_count": 1}})
    assert [f["id"] for f in ctl.faults()] == [fid]
    assert call(proxy.url, "status") == "failed"
    assert call(proxy.url, "status") == "ok"
    assert [r.outcome for r in ctl.history()] == ["eof", "ok"]
    assert ctl.faults()[0]["state"] == "ended"
    ctl.set_height(12)
    assert ctl.status()["height"] == 12
    fid2 = ctl.add_fault({"fault": "latency", "params": {"latency_ms": 1}, "window": {"end_ms": 1000}})
    ctl.remove_fault(fid2)
    ctl.add_fault({"fault": "reset", "window": {"max_count": 1}})
    ctl.clear()
    assert ctl.faults() == []
    ctl.reset()
    assert ctl.history() == []
    assert ctl.history_doc()["seed"] == 3


@pytest.mark.parametrize(
    ("spec", "field"),
    [
        ({"target": {}}, "fault"),
        ({"fault": "explode", "window": {"max_count": 1}}, "fault"),
        ({"fault": "latency", "window": {"max_count": 1}}, "params.latency_ms"),
        ({"fault": "latency", "params": {"latency_ms": -1}, "window": {"max_count": 1}}, "params.latency_ms"),
        ({"fault": "eof", "params": {"x": 1}, "window": {"max_count": 1}}, "params.x"),
        ({"fault": "eof"}, "window"),
        ({"fault": "eof", "window": {"max_count": 0}}, "window.max_count"),
        ({"fault": "eof", "window": {"end_ms": 5, "start_ms": 10}}, "window.end_ms"),
        ({"fault": "eof", "target": {"kind": "udp"}, "window": {"max_count": 1}}, "target.kind"),
        ({"fault": "eof", "target": {"probability": 2}, "window": {"max_count": 1}}, "target.probability"),
        ({"fault": "eof", "target": {"nth": "3"}, "window": {"max_count": 1}}, "target.nth"),
        ({"fault": "eof", "target": {"colour": 1}, "window": {"max_count": 1}}, "target.colour"),
        ([1, 2], "spec"),
    ],
)
def test_control_api_rejects_malformed_specs_naming_the_field(proxy: ChaosProxy, spec: object, field: str) -> None:
    r = requests.post(proxy.control_url + "/faults", json=spec, timeout=5)
    assert r.status_code == 400
    assert r.json()["error"].startswith(field)
    with pytest.raises(ConfigError, match=field.replace(".", r"\.")):
        ChaosControl(proxy.control_url).add_fault(spec)  # type: ignore[arg-type]


def test_control_api_other_errors(proxy: ChaosProxy) -> None:
    base = proxy.control_url
    assert requests.post(base + "/faults", data=b"{not json", timeout=5).status_code == 400
    assert requests.delete(base + "/faults/99", timeout=5).status_code == 404
    assert requests.delete(base + "/faults/abc", timeout=5).status_code == 400
    r = requests.post(base + "/height", json={"height": -3}, timeout=5)
    assert r.status_code == 400
    assert r.json()["error"].startswith("height")


def _proxy_process(tmp_path: Path, upstream: RpcUpstream, *extra: str) -> ManagedProcess:
    argv = [sys.executable, "-m", "harness.chaos.cli", "--listen", "0", "--upstream", upstream.url, "--seed", "9", *extra]
    return ManagedProcess(argv, name="chaos-proxy", log_path=tmp_path / "chaos-proxy.log", cwd=REPO)


def _ready_line(proc: ManagedProcess) -> dict[str, str]:
    proc.wait_ready(lambda: "chaos-proxy ready" in proc.logs(), timeout_s=20, what="ready line")
    line = next(x for x in proc.logs().splitlines() if x.startswith("chaos-proxy ready"))
    return dict(part.split("=", 1) for part in line.split()[2:])


def test_cli_prints_ready_line_serves_and_exits_on_sigterm(tmp_path: Path, upstream: RpcUpstream) -> None:
    with _proxy_process(tmp_path, upstream) as proc:
        info = _ready_line(proc)
        assert info["seed"] == "9"
        assert call(info["listen"], "status") == "ok"
        ChaosControl(info["control"]).add_fault({"fault": "eof", "window": {"max_count": 1}})
        assert call(info["listen"], "status") == "failed"
        assert proc.popen is not None
        proc.popen.send_signal(signal.SIGTERM)
        assert proc.popen.wait(10) == 0
    assert "stopped (signal SIGTERM)" in proc.logs()


def test_cli_exits_when_its_parent_is_gone(tmp_path: Path, upstream: RpcUpstream) -> None:
    parent_argv = [sys.executable, "-c", "import time; time.sleep(60)"]
    with ManagedProcess(parent_argv, name="parent", log_path=tmp_path / "p.log") as parent:
        with _proxy_process(tmp_path, upstream, "--parent-pid", str(parent.pid)) as proc:
            _ready_line(proc)
            parent.stop()
            wait_until(lambda: not proc.is_running(), timeout_s=10, what="proxy exits after its parent", evidence=proc.evidence)
    assert "parent" in proc.logs()
    assert proc.popen is not None
    assert proc.popen.returncode == 0


def test_cli_max_lifetime_and_bad_input(tmp_path: Path, upstream: RpcUpstream) -> None:
    with _proxy_process(tmp_path, upstream, "--max-lifetime-s", "0.5") as proc:
        _ready_line(proc)
        wait_until(lambda: not proc.is_running(), timeout_s=10, what="proxy exits after its max lifetime", evidence=proc.evidence)
    with _proxy_process(tmp_path, upstream, "--upstream", "ftp://x") as bad:
        wait_until(lambda: not bad.is_running(), timeout_s=20, what="bad input exits", evidence=bad.evidence)
        assert bad.popen is not None
        assert bad.popen.returncode == 2
    assert "upstream" in bad.logs()


def _rec(seq: int, start: float, outcome: str, dur: float = 10.0) -> ProxiedRequest:
    return ProxiedRequest(
        seq=seq, kind="http", conn_id=1, start_ms=start, end_ms=start + dur, methods=("status",), outcome=outcome
    )


def test_checkers_over_a_history() -> None:
    hist = [_rec(1, 0, "ok"), _rec(2, 100, "eof"), _rec(3, 200, "reset"), _rec(4, 300, "eof"), _rec(5, 400, "ok")]
    hist += [_rec(6, 500, "upstream_error"), _rec(7, 600, "ok", dur=5000), _rec(8, 700, "ok")]
    assert longest_failure_streak(hist) == 3
    assert time_to_heal_ms(hist, 310) == pytest.approx(5600 - 310)
    assert time_to_heal_ms(hist, 550) == pytest.approx(5600 - 550)
    assert time_to_heal_ms([*hist, _rec(9, 800, "eof")], 310) is None
    assert [r.seq for r in hung_calls(hist, 1000)] == [7]
    report = ChaosReport.build([r.to_json() for r in hist], seed=5, deadline_ms=1000, pool_debug={"size": 3, "healthy": 3})
    assert (report.failed, report.longest_failure_streak, report.hung) == (4, 3, 1)
    assert report.last_fault_end_ms is None  # no record carries an applied fault
    text = report.to_text()
    assert "seed=5" in text
    assert "4 failed" in text
    assert "3/3 healthy" in text
    json.dumps(report.to_json())


def test_pool_back_to_n() -> None:
    slots = [{"index": i, "healthy": i != 2, "generation": 1, "last_error": None} for i in range(3)]
    assert not pool_back_to_n({"size": 3, "healthy": 2, "replaced": 1, "failures": 4, "slots": slots}, 3)
    slots[2]["healthy"] = True
    assert pool_back_to_n({"size": 3, "healthy": 3, "replaced": 1, "failures": 4, "slots": slots}, 3)
    assert not pool_back_to_n({"size": 3, "healthy": 3, "slots": slots[:2]}, 3), "the slot list must agree with the count"
    with pytest.raises(ConfigError, match="healthy"):
        pool_back_to_n({"slots": []}, 3)
    with pytest.raises(ConfigError, match="slots"):
        pool_back_to_n({"healthy": 3}, 3)


def test_http_parsing_units() -> None:
    from harness.chaos.http import parse_request_head, rpc_methods

    req = parse_request_head(
        b"GET /websocket HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Extensions: x\r\n\r\n"
    )
    assert req.websocket
    assert b"Sec-WebSocket-Extensions" not in req.head
    assert rpc_methods("POST", "/", json.dumps([{"method": "a"}, {"method": "b"}, 3]).encode()) == ("a", "b")
    assert rpc_methods("POST", "/", b"not json") == ()
    assert rpc_methods("GET", "/abci_query?path=x", b"") == ("abci_query",)
    with pytest.raises(Exception, match="HTTP version"):
        parse_request_head(b"GET / HTTP/2\r\n\r\n")


# -- the proxy as its own process (what the embedded and gonka backends run) -----------------------------------------------


def test_a_proxy_process_decides_as_the_in_process_proxy_for_the_same_seed(upstream: RpcUpstream, tmp_path: Path) -> None:
    keys_in, seen_in = run_sequence(upstream, 4321)
    process = ChaosProxyProcess(upstream.url, seed=4321, log_dir=tmp_path)
    keys_out, seen_out = run_sequence(upstream, 4321, proxy=process)
    assert process.seed == 4321
    assert keys_out == keys_in
    assert seen_out == seen_in
    assert "failed" in seen_out  # the faults did apply


def test_the_driver_surface_over_the_control_api(upstream: RpcUpstream, tmp_path: Path) -> None:
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


def test_a_proxy_process_on_a_given_port_names_it_before_it_is_ready(upstream: RpcUpstream, tmp_path: Path) -> None:
    port = free_port()
    p = ChaosProxyProcess(upstream.url, listen_port=port, log_dir=tmp_path)
    assert p.url == f"http://127.0.0.1:{port}"  # an API node config can name it before it starts
    with p:
        assert call(p.url, "status") == "ok"
