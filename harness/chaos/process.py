"""The chaos proxy as a child process (`harness chaos-proxy`), driven through its control API.

    with ChaosProxyProcess("http://127.0.0.1:26657", seed=7, log_dir=tmp) as proxy:
        api_chain_url = proxy.url                 # what the API node dials instead of the chain
        proxy.add_fault({"fault": "eof", "target": {"methods": ["abci_query"]}, "window": {"max_count": 1}})
        proxy.history()                           # [ProxiedRequest, ...], as ChaosProxy.history()

It offers what the chaos driver and checkers use of an in-process `ChaosProxy` (url, ws_url, control_url, seed,
height, reset, clear, set_height, add_fault, faults, history, decisions, connections, status; see ChaosControl).
A testnet runs it outside the test process so that the API node's chain connection never waits on pytest: a
garbage-collection pause or a loaded moment in the test process once held the API node's NewBlock events back by a
second (its switch looked a block late to the audit) while every other service ran on. It never outlives the test
process (`--parent-pid`)."""

from __future__ import annotations

import os
import re
import sys
from pathlib import Path
from typing import Any, Self

from harness.chaos.control import ChaosControl
from harness.chaos.faults import Fault, FaultSpec
from harness.chaos.targets import FaultWindowSpec, Target
from harness.errors import StartupError
from harness.util.process import ManagedProcess

READY_RE = re.compile(r"chaos-proxy ready listen=(http://\S+) control=(http://\S+) seed=(-?\d+)")
LIFETIME_S = 7 * 24 * 3600  # the owner's pid is what ends it; this only bounds a proxy whose check never runs


class ChaosProxyProcess(ChaosControl):
    def __init__(
        self,
        upstream: str,
        *,
        seed: int = 0,
        listen_port: int = 0,
        log_dir: str | Path = ".",
        ready_timeout_s: float = 30,
        name: str = "chaos-proxy",
    ) -> None:
        super().__init__("http://127.0.0.1:0")  # the control URL is known once the child says it is ready
        self.upstream = upstream
        self.listen_port = listen_port  # 0: allocated by the child (then `url` is known once it is ready)
        self.url = f"http://127.0.0.1:{listen_port}" if listen_port else ""
        self.seed = seed
        self.log_dir = Path(log_dir)
        self.ready_timeout_s = ready_timeout_s
        self.name = name  # the process and its log file (`chaos-proxy-p2` in a network of embedded participants)
        self.proc: ManagedProcess | None = None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def start(self) -> Self:
        argv = [sys.executable, "-m", "harness", "chaos-proxy", "--listen", str(self.listen_port), "--upstream", self.upstream,
                "--seed", str(self.seed), "--parent-pid", str(os.getpid()), "--max-lifetime-s", str(LIFETIME_S)]  # fmt: skip
        self.proc = ManagedProcess(argv, name=self.name, log_path=self.log_dir / f"{self.name}.log")
        self.proc.start()
        try:
            self.proc.wait_ready(self._ready, timeout_s=self.ready_timeout_s, what="the 'chaos-proxy ready' line")
        except StartupError:
            self.stop()
            raise
        return self

    def _ready(self) -> bool:
        assert self.proc is not None
        m = READY_RE.search(self.proc.output())
        if m:
            self.url, self.base, self.seed = m[1], m[2], int(m[3])
        return bool(m)

    def stop(self) -> int | None:
        return self.proc.stop() if self.proc is not None else None

    @property
    def control_url(self) -> str:
        return self.base

    @property
    def port(self) -> int:
        return int(self.url.rsplit(":", 1)[1])

    @property
    def ws_url(self) -> str:
        return self.url.replace("http://", "ws://", 1) + "/websocket"

    def add_fault(
        self, spec: dict[str, Any] | FaultSpec | Fault, *, target: Target | None = None, window: FaultWindowSpec | None = None
    ) -> int:
        """As ChaosProxy.add_fault: a JSON-style dict (checked here first), a FaultSpec, or a fault plus target/window."""
        return super().add_fault(FaultSpec.of(spec, target, window))
