"""Core utilities: versions, ports, waits, supervised processes, keys."""

from __future__ import annotations

import itertools
import sys
import time

import pytest

from harness.chain.keys import DEV_MNEMONIC, Key, gov_module_address, validate_address
from harness.errors import ConfigError, StartupError, WaitTimeout
from harness.util.ports import ensure_port_free, free_port
from harness.util.process import ManagedProcess, live_processes
from harness.util.wait import wait_until
from harness.versions import check_version, parse_version, parse_version_list, version_in_path


@pytest.mark.parametrize("text", ["v0.3.8", "v0.3.10", "v10.0.0"])
def test_valid_versions(text):
    assert check_version(text) == text


@pytest.mark.parametrize("text", ["0.3.8", "v0.3", "v0.3.8-rc1", "v01.3.8", "V0.3.8", "", "v0.3.8/"])
def test_bad_version_names_the_form(text):
    with pytest.raises(ConfigError, match="vMAJOR.MINOR.PATCH"):
        parse_version(text, field="--to")


def test_versions_compare_numerically():
    assert parse_version("v0.3.10") > parse_version("v0.3.9")


def test_version_list():
    assert parse_version_list("v0.3.8, v0.3.9,v0.3.10") == ["v0.3.8", "v0.3.9", "v0.3.10"]
    with pytest.raises(ConfigError, match="at least two"):
        parse_version_list("v0.3.8")
    with pytest.raises(ConfigError, match="distinct"):
        parse_version_list("v0.3.8,v0.3.8")


@pytest.mark.parametrize(
    ("path", "version"),
    [("/v0.3.9/api/v1/state", "v0.3.9"), ("/v0.3.10/health", "v0.3.10"), ("/api/v1/state", None), ("/v1/chat/completions", "v1")],
)
def test_version_in_path(path, version):
    assert version_in_path(path) == version


def test_gov_module_address_matches_gonka():
    assert gov_module_address() == "gonka10d07y265gmmuvt4z0w9aw880jnsr700j2h5m33"


def test_dev_key_derivation_is_stable_and_signs():
    k = Key.from_mnemonic(DEV_MNEMONIC)
    assert k.address == Key.from_mnemonic(DEV_MNEMONIC).address
    assert k.address.startswith("gonka1")
    assert Key.from_mnemonic(DEV_MNEMONIC, index=1).address != k.address
    assert k.private_key.public_key.verify(b"payload", k.sign(b"payload"))


def test_bad_mnemonic_and_address():
    with pytest.raises(ConfigError, match="BIP-39"):
        Key.from_mnemonic("one two three")
    with pytest.raises(ConfigError, match="prefix"):
        validate_address("cosmos10d07y265gmmuvt4z0w9aw880jnsr700j6zn9kn")


def test_port_in_use_is_reported():
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        port = s.getsockname()[1]
        with pytest.raises(ConfigError, match=f"port {port}.*already in use"):
            ensure_port_free(port, field="api.public_server_port")
    ensure_port_free(free_port(), field="x")


def test_wait_until_reports_what_and_last_error():
    def never():
        raise RuntimeError("connection refused")

    with pytest.raises(WaitTimeout, match=r"(?s)the moon.*connection refused.*hint: look up"):
        wait_until(never, timeout_s=0.2, what="the moon", hint="look up")
    t0 = time.monotonic()
    assert wait_until(lambda: time.monotonic() - t0 > 0.05 and 42, timeout_s=2, what="clock") == 42


def test_process_death_fails_fast_with_log_tail(tmp_path):
    proc = ManagedProcess(
        [sys.executable, "-c", "print('boom here'); raise SystemExit(3)"], name="dier", log_path=tmp_path / "dier.log"
    )
    with proc, pytest.raises(StartupError, match=r"(?s)exited with code 3.*boom here"):
        proc.wait_ready(lambda: False, timeout_s=20, what="never ready")
    assert proc not in live_processes()


def test_process_group_is_torn_down(tmp_path):
    code = (
        "import subprocess,sys,time; subprocess.Popen([sys.executable,'-c','import time; time.sleep(60)']); "
        "print('up', flush=True); time.sleep(60)"
    )
    proc = ManagedProcess([sys.executable, "-c", code], name="parent", log_path=tmp_path / "p.log")
    with proc:
        proc.wait_ready(lambda: "up" in proc.logs(), timeout_s=10, what="parent printed up")
    assert not proc.is_running()
    import subprocess

    def group_alive() -> list[str]:
        out = subprocess.run(["ps", "-o", "pid=,stat=", "-s", str(proc.pid)], capture_output=True, text=True)
        return [line for line in out.stdout.splitlines() if line.split()[1:2] != ["Z"]]

    wait_until(lambda: not group_alive(), timeout_s=5, what="process group empty", evidence=lambda: str(group_alive()))


def test_tcp_relay_forwards_and_stops():
    import http.server
    import threading

    import requests

    from harness.util.relay import TcpRelay

    class Hello(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            body = f"host={self.headers['Host']}".encode()
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Hello)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        with TcpRelay(server.server_port) as relay:
            port = relay.port
            assert port != server.server_port
            # the server sees the port the client addressed: that is how a journal tells the two ports apart
            assert requests.get(f"http://127.0.0.1:{port}/x", timeout=5).text == f"host=127.0.0.1:{port}"
        from harness.util.ports import port_is_listening

        assert not port_is_listening(port)
    finally:
        server.shutdown()
        server.server_close()


def test_free_port_never_hands_out_the_same_port_twice_in_a_row():
    from harness.util.ports import free_port

    ports = [free_port() for _ in range(300)]
    assert len(set(ports)) == len(ports)


def test_free_port_stays_out_of_the_kernels_ephemeral_range_and_each_worker_has_its_own_slice(monkeypatch):
    from harness.util import ports

    ephemeral_low = ports._ephemeral_low()
    if ephemeral_low - ports.FIRST_PORT < 512:
        pytest.skip(f"this machine's ephemeral range starts at {ephemeral_low}: no room below it")
    slices = []
    for worker in ("gw0", "gw1", "gw2"):
        monkeypatch.setenv("PYTEST_XDIST_WORKER", worker)
        monkeypatch.setenv("PYTEST_XDIST_WORKER_COUNT", "3")
        alloc = ports._Allocator.for_this_process()
        handed = [alloc.next() for _ in range(50)]
        assert all(alloc.lo <= p < alloc.hi <= ephemeral_low for p in handed), (worker, alloc, handed)
        assert all(ports._bindable(p) for p in handed)
        slices.append(range(alloc.lo, alloc.hi))
    assert all(a.stop <= b.start for a, b in itertools.pairwise(slices)), slices  # ascending and disjoint
    # within a slice the cursor goes round: no port again before the rest of the slice was tried
    small = ports._Allocator(ports.FIRST_PORT, ports.FIRST_PORT + 300, 0)
    handed = [small.next() for _ in range(100)]
    assert len(set(handed)) == len(handed)
    assert all(small.lo <= p < small.hi for p in handed)
