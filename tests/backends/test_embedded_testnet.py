"""The embedded testnet starts every part, registers the MLNodes, and leaves nothing behind on teardown:
no child process, no listening port, no thread of ours."""

from __future__ import annotations

import os
import subprocess
import threading
from urllib.parse import urlparse

import pytest

from harness.backends.embedded import EmbeddedTestnet
from harness.options import RunOptions
from harness.util.ports import port_is_listening
from harness.util.process import live_processes
from harness.util.wait import wait_until


def _children() -> list[str]:
    out = subprocess.run(["ps", "-o", "pid=,stat=,args=", "--ppid", str(os.getpid())], capture_output=True, text=True)
    return [line for line in out.stdout.splitlines() if " Z" not in line and "ps -o" not in line]


def _ports(tn) -> list[int]:
    e = tn.endpoints
    urls = [e.chain_rpc, e.api_chain_rpc, e.api_public, e.api_admin] + [u for n in tn.mlnodes for u in n.journals.values()]
    if e.chaos_control:
        urls.append(e.chaos_control)
    return sorted({urlparse(u).port for u in urls})


@pytest.mark.parametrize("topology", ["single", "side-by-side"])
def test_start_and_teardown_leaves_nothing(tmp_path, topology):
    threads_before = set(threading.enumerate())
    tn = EmbeddedTestnet(RunOptions(topology=topology), tmp_path)
    with tn:
        ports = _ports(tn)
        assert all(port_is_listening(p) for p in ports)
        assert tn.chain.mlnode_version() == "v0.3.8"
        nodes = tn.api.nodes()
        assert [n["state"]["current_status"] for n in nodes] == ["INFERENCE"]
        assert tn.api.chat("hello").content.endswith("v0.3.8")
        assert live_processes(), "the testnet should run supervised child processes"
    assert not live_processes(), f"processes survived teardown: {[p.name for p in live_processes()]}"
    wait_until(lambda: not _children(), timeout_s=10, what="no child processes", evidence=lambda: "\n".join(_children()))
    still = [p for p in ports if port_is_listening(p)]
    assert not still, f"ports still listening after teardown: {still}"
    wait_until(
        lambda: not (set(threading.enumerate()) - threads_before),
        timeout_s=10,
        what="our threads ended",
        evidence=lambda: str(set(threading.enumerate()) - threads_before),
    )


def test_failed_start_tears_down_what_started(tmp_path, monkeypatch):
    from harness.errors import StartupError

    def boom(self, *args):
        raise StartupError("injected failure after the mocks and the chain started")

    monkeypatch.setattr(EmbeddedTestnet, "_write_api_config", boom)
    with pytest.raises(StartupError, match="injected"):
        EmbeddedTestnet(RunOptions(), tmp_path).start()
    assert not live_processes()
    wait_until(lambda: not _children(), timeout_s=10, what="no child processes", evidence=lambda: "\n".join(_children()))
