"""`harness simnet` as a process: one ready line, serves, exits 0 on SIGTERM; SimnetProcess wraps it."""

from __future__ import annotations

import json
import re
import selectors
import signal
import subprocess
import sys
import time

import requests

from harness.chain.keys import DEV_MNEMONIC
from harness.model.simnet import Genesis, SimnetProcess
from harness.util.process import live_processes
from harness.util.wait import wait_until

READY = re.compile(r"^simnet ready rpc=http://127\.0\.0\.1:(\d+) chain_id=(\S+)$")


def _read_line(proc: subprocess.Popen, timeout_s: float) -> str:
    sel = selectors.DefaultSelector()
    sel.register(proc.stdout, selectors.EVENT_READ)
    deadline = time.monotonic() + timeout_s
    buf = b""
    while b"\n" not in buf and time.monotonic() < deadline and proc.poll() is None:
        if sel.select(timeout=max(0.0, deadline - time.monotonic())):
            chunk = proc.stdout.read1(4096)
            if not chunk:
                break
            buf += chunk
    sel.close()
    return buf.decode().split("\n")[0]


def test_cli_prints_ready_line_serves_and_exits_cleanly_on_sigterm():
    argv = [sys.executable, "-m", "harness", "simnet", "--rpc-port", "0", "--block-time", "0.05"]
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True)
    try:
        line = _read_line(proc, 30)
        m = READY.match(line)
        assert m, f"ready line not seen: {line!r}; stderr: {proc.stderr.read1(4000) if proc.poll() is not None else ''}"
        assert m[2] == "gonka-testnet"
        url = f"http://127.0.0.1:{m[1]}"
        wait_until(
            lambda: int(requests.get(f"{url}/status", timeout=2).json()["result"]["sync_info"]["latest_block_height"]) >= 2,
            timeout_s=10,
            what="simnet CLI height >= 2",
        )
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(10) == 0
        rest = proc.stdout.read().decode()
        assert "simnet ready" not in rest  # exactly one ready line
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(5)
        proc.stdout.close()
        proc.stderr.close()


def test_cli_help_documents_the_dev_mnemonic():
    out = subprocess.run([sys.executable, "-m", "harness", "simnet", "--help"], capture_output=True, text=True, timeout=30)
    assert out.returncode == 0
    assert DEV_MNEMONIC in " ".join(out.stdout.split())
    assert "--rpc-port" in out.stdout


def test_cli_bad_genesis_is_bad_input(tmp_path):
    g = tmp_path / "g.json"
    g.write_text(json.dumps({"initial_mlnode_version": "latest"}))
    out = subprocess.run(
        [sys.executable, "-m", "harness", "simnet", "--rpc-port", "0", "--genesis", str(g)],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert out.returncode == 2
    assert "vMAJOR.MINOR.PATCH" in out.stderr


def test_simnet_process_runner(tmp_path):
    with SimnetProcess(Genesis(chain_id="sim-7", block_time_s=0.05), port=0, log_dir=tmp_path) as sp:
        assert sp.chain_id == "sim-7"
        assert sp.ws_url.endswith("/websocket")
        st = requests.post(sp.rpc_url, json={"jsonrpc": "2.0", "id": 1, "method": "status"}, timeout=5).json()["result"]
        assert st["node_info"]["network"] == "sim-7"
        assert sp.proc in live_processes()
        rc = sp.stop()
    assert rc == 0
    assert sp.proc not in live_processes()
    assert "simnet stopped at height" in (tmp_path / "simnet.log").read_text()
